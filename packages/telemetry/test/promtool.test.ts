// Runs Prometheus's own checker over infra/prometheus: config syntax (including the rule files it references),
// rule syntax, and the rule unit tests in alerts.test.yml.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { skipWithoutTool } from '@gradq/testing';
import { DEFAULT_METRICS_PORT } from '../src/options';
import {
  ALERTS_FILE,
  ALERTS_TEST_FILE,
  LOCAL_PROMETHEUS_CONFIG_FILE,
  PROMETHEUS_CONFIG_FILE,
} from './support/infra-files';

const PROMTOOL = process.env.PROMTOOL_BIN ?? 'promtool';

function promtool(...args: string[]): string {
  const run = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 60_000 });
  const output = `${run.stdout}${run.stderr}`;
  assert.equal(run.status, 0, `promtool ${args.join(' ')} failed:\n${output}`);
  return output;
}

describe('promtool', { skip: skipWithoutTool('promtool') }, () => {
  test('check config: prometheus.yml (and the alert rules it loads) is valid', () => {
    assert.match(promtool('check', 'config', PROMETHEUS_CONFIG_FILE), /SUCCESS/);
  });

  test('check config: local.yml, for scraping pnpm start without Docker, is valid and scrapes its default ports', () => {
    assert.match(promtool('check', 'config', LOCAL_PROMETHEUS_CONFIG_FILE), /SUCCESS/);
    const text = readFileSync(LOCAL_PROMETHEUS_CONFIG_FILE, 'utf8');
    for (const port of [DEFAULT_METRICS_PORT.coordinator, DEFAULT_METRICS_PORT.worker])
      assert.match(text, new RegExp(`'127\\.0\\.0\\.1:${port}'`), `local.yml does not scrape :${port}`);
  });

  test('check rules: alerts.yml is valid', () => {
    assert.match(promtool('check', 'rules', ALERTS_FILE), /SUCCESS: \d+ rules found/);
  });

  test('test rules: every alert fires, and stays quiet, when alerts.test.yml says it should', () => {
    assert.match(promtool('test', 'rules', ALERTS_TEST_FILE), /SUCCESS/);
  });
});
