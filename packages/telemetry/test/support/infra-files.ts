// Reads the files under infra/ that tests check: the Grafana dashboard, datasource provisioning and the
// Prometheus configuration. Paths are resolved from this file so tests run from any working directory.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

/** Absolute path of a file under the repository's infra/ directory. */
export function infraPath(relative: string): string {
  return fileURLToPath(new URL(`../../../../infra/${relative}`, import.meta.url));
}

export const DASHBOARD_FILE = infraPath('grafana/dashboards/gradq-training.json');
export const DATASOURCE_FILE = infraPath('grafana/provisioning/datasources/prometheus.yml');
export const DASHBOARD_PROVIDER_FILE = infraPath('grafana/provisioning/dashboards/gradq.yml');
export const PROMETHEUS_CONFIG_FILE = infraPath('prometheus/prometheus.yml');
export const LOCAL_PROMETHEUS_CONFIG_FILE = infraPath('prometheus/local.yml');
export const ALERTS_FILE = infraPath('prometheus/alerts.yml');
export const ALERTS_TEST_FILE = infraPath('prometheus/alerts.test.yml');

/** The parts of a Grafana panel the tests look at; everything else is checked by the schema test. */
export interface PanelJson {
  id?: number;
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  gridPos?: { x: number; y: number; w: number; h: number };
  targets?: Array<{ expr?: string; refId?: string; datasource?: { type?: string; uid?: string } }>;
  panels?: PanelJson[];
  options?: unknown;
  fieldConfig?: { defaults?: { custom?: unknown } };
}

export interface DashboardJson {
  uid?: string;
  title?: string;
  panels?: PanelJson[];
  templating?: { list?: unknown[] };
}

export function readDashboardText(): string {
  return readFileSync(DASHBOARD_FILE, 'utf8');
}

export function readDashboard(): DashboardJson {
  return JSON.parse(readDashboardText()) as DashboardJson;
}

/** Every panel including those nested in collapsed rows. */
export function allPanels(dashboard: DashboardJson): PanelJson[] {
  return (dashboard.panels ?? []).flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** The uid of the one provisioned Prometheus datasource. */
export function provisionedDatasourceUid(): string {
  const config = parseYaml(readFileSync(DATASOURCE_FILE, 'utf8')) as {
    datasources?: Array<{ uid?: string; type?: string }>;
  };
  const prometheus = (config.datasources ?? []).filter((d) => d.type === 'prometheus');
  if (prometheus.length !== 1 || !prometheus[0]?.uid) {
    throw new Error(`${DATASOURCE_FILE}: expected exactly one prometheus datasource with a uid`);
  }
  return prometheus[0].uid;
}

/** A PromQL expression and where it comes from, for failure messages. */
export interface QuerySource {
  where: string;
  expr: string;
}

export function dashboardQueries(): QuerySource[] {
  return allPanels(readDashboard()).flatMap((panel) =>
    (panel.targets ?? []).flatMap((target) =>
      target.expr ? [{ where: `panel "${panel.title}" ${target.refId ?? ''}`, expr: target.expr }] : [],
    ),
  );
}

export function alertQueries(): QuerySource[] {
  const rules = parseYaml(readFileSync(ALERTS_FILE, 'utf8')) as {
    groups?: Array<{ rules?: Array<{ alert?: string; record?: string; expr?: string }> }>;
  };
  return (rules.groups ?? []).flatMap((group) =>
    (group.rules ?? []).flatMap((rule) =>
      rule.expr ? [{ where: `rule ${rule.alert ?? rule.record}`, expr: String(rule.expr) }] : [],
    ),
  );
}
