// Validates a dashboard against Grafana's published schema. @grafana/schema ships no JSON Schema, only the
// TypeScript types generated from Grafana's CUE schema (the classic dashboard model `Dashboard`, and per panel
// plugin `Options`/`FieldConfig`). So the check type-checks the JSON as a TypeScript literal against those types
// with the compiler API: missing required fields, wrong types, unknown keys (excess property checks) and values
// outside enums all fail, with a line number.
import { dirname, join } from 'node:path';
import ts from 'typescript';
import type { DashboardJson } from './infra-files';

// Panel plugins whose types are checked: the module exporting them, and whether it has a `FieldConfig` for
// `fieldConfig.defaults.custom` (stat has none: it has no custom field options).
const PANEL_TYPES: Readonly<Record<string, { module: string; fieldConfig: boolean }>> = {
  timeseries: {
    module: '@grafana/schema/dist/esm/raw/composable/timeseries/panelcfg/x/TimeSeriesPanelCfg_types.gen',
    fieldConfig: true,
  },
  stat: {
    module: '@grafana/schema/dist/esm/raw/composable/stat/panelcfg/x/StatPanelCfg_types.gen',
    fieldConfig: false,
  },
};

// The types use TypeScript enums (e.g. `BigValueColorMode.Value = 'value'`), which a JSON string literal cannot
// be assigned to; `${E}` turns an enum into the union of its values, which is exactly what the JSON holds.
const JSON_OF =
  // biome-ignore lint/suspicious/noTemplateCurlyInString: this is TypeScript source text, not a template.
  'type JsonOf<T> = T extends string ? `${T}` : T extends readonly (infer U)[] ? JsonOf<U>[] : T extends object ? { [K in keyof T]: JsonOf<T[K]> } : T;';

/** One schema violation: where (a dashboard path) and the compiler's message. */
export interface SchemaProblem {
  where: string;
  message: string;
}

/**
 * Type-checks `dashboard` against `Dashboard` from @grafana/schema, and the options and custom field config of
 * every timeseries and stat panel against that plugin's types. `fromDir` must be able to resolve @grafana/schema.
 */
export function checkDashboardSchema(dashboard: DashboardJson, fromDir: string): SchemaProblem[] {
  const fileName = join(fromDir, '__dashboard_schema_check__.ts');
  const lines: string[] = [`import type { Dashboard } from '@grafana/schema';`];
  const whereByLine: string[] = [];
  const plugins = Object.entries(PANEL_TYPES);
  plugins.forEach(([, plugin], i) => {
    const fieldConfig = plugin.fieldConfig ? `, FieldConfig as FieldConfig${i}` : '';
    lines.push(`import type { Options as Options${i}${fieldConfig} } from '${plugin.module}';`);
  });
  lines.push(JSON_OF);
  const add = (where: string, type: string, value: unknown) => {
    // One value per line, so a diagnostic's line maps back to a dashboard path.
    whereByLine[lines.length] = where;
    lines.push(`export const v${lines.length}: JsonOf<${type}> = ${JSON.stringify(value)};`);
  };
  add('dashboard', 'Dashboard', dashboard);
  const panels = (dashboard.panels ?? []).flatMap((p) => [p, ...(p.panels ?? [])]);
  for (const panel of panels) {
    const index = plugins.findIndex(([type]) => type === panel.type);
    if (index < 0) continue;
    const where = `panel ${panel.id} "${panel.title}" (${panel.type})`;
    add(`${where} options`, `Options${index}`, panel.options ?? {});
    if (plugins[index]?.[1].fieldConfig)
      add(`${where} fieldConfig.defaults.custom`, `FieldConfig${index}`, panel.fieldConfig?.defaults?.custom ?? {});
  }
  const source = lines.join('\n');

  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, languageVersion, ...rest) =>
    name === fileName
      ? ts.createSourceFile(name, source, languageVersion, true)
      : getSourceFile(name, languageVersion, ...rest);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => name === fileName || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => (name === fileName ? source : readFile(name));

  const program = ts.createProgram([fileName], options, host);
  const diagnostics = [
    ...program.getSyntacticDiagnostics(),
    ...program.getSemanticDiagnostics(),
    ...program.getGlobalDiagnostics(),
  ];
  return diagnostics.map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const inOurFile = d.file?.fileName === fileName;
    return {
      where: inOurFile ? (whereByLine[line] ?? `generated line ${line + 1}`) : (d.file?.fileName ?? 'compiler'),
      message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
    };
  });
}

/** The directory of a module URL, for `fromDir`. */
export function dirOf(moduleUrl: string): string {
  return dirname(new URL(moduleUrl).pathname);
}
