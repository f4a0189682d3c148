// Metric names referenced by a PromQL expression, found with Prometheus's own PromQL grammar
// (@prometheus-io/lezer-promql, the parser behind the Prometheus UI) rather than a regex: a regex would also match
// label values and miss `{__name__="..."}` selectors.
import { parser } from '@prometheus-io/lezer-promql';

// Grafana replaces these before the query reaches Prometheus; any valid duration will do for parsing.
const GRAFANA_VARIABLES: ReadonlyArray<[RegExp, string]> = [
  [/\$__rate_interval\b/g, '1m'],
  [/\$__interval\b/g, '1m'],
  [/\$__range\b/g, '1h'],
];

/** Replaces Grafana's built-in interval variables with durations so the expression is plain PromQL. */
export function expandGrafanaVariables(expr: string): string {
  return GRAFANA_VARIABLES.reduce((text, [pattern, value]) => text.replace(pattern, value), expr);
}

/** Parses `expr`; throws naming the offset of the first syntax error. */
export function metricNamesOf(expr: string): Set<string> {
  const names = new Set<string>();
  const tree = parser.parse(expr);
  const cursor = tree.cursor();
  do {
    if (cursor.type.isError) throw new SyntaxError(`invalid PromQL at offset ${cursor.from}: ${expr}`);
    const node = cursor.node;
    if (node.name === 'VectorSelector') {
      const identifier = node.getChild('Identifier');
      if (identifier) names.add(expr.slice(identifier.from, identifier.to));
    }
    if (node.name === 'UnquotedLabelMatcher' || node.name === 'QuotedLabelMatcher') {
      const label = node.getChild('LabelName') ?? node.getChild('QuotedLabelName');
      const value = node.getChild('StringLiteral');
      const op = node.getChild('MatchOp');
      const labelText = label ? expr.slice(label.from, label.to).replace(/"/g, '') : '';
      if (labelText === '__name__' && value && op && expr.slice(op.from, op.to) === '=') {
        names.add(JSON.parse(expr.slice(value.from, value.to).replace(/^'|'$/g, '"')));
      }
    }
  } while (cursor.next());
  return names;
}

/** A vector selector of `expr` and its label matchers (`label op value`, value unquoted). */
export interface Selector {
  name: string;
  matchers: string[];
}

/** An aggregation (`sum`, `max`...) of `expr`: its `by (...)` labels (undefined without `by`) and its metrics. */
export interface Aggregation {
  text: string;
  by: string[] | undefined;
  metrics: Set<string>;
}

/** Every named vector selector in `expr` and every aggregation, for checks on labels (the dashboard's `run`). */
export function structureOf(expr: string): { selectors: Selector[]; aggregations: Aggregation[] } {
  const selectors: Selector[] = [];
  const aggregations: Aggregation[] = [];
  const text = (n: { from: number; to: number }) => expr.slice(n.from, n.to);
  parser.parse(expr).iterate({
    enter: (ref) => {
      const node = ref.node;
      if (node.name === 'VectorSelector') {
        const identifier = node.getChild('Identifier');
        if (!identifier) return;
        const matchers = node
          .getChild('LabelMatchers')
          ?.getChildren('UnquotedLabelMatcher')
          .map((m) => text(m).replace(/"/g, ''));
        selectors.push({ name: text(identifier), matchers: matchers ?? [] });
      }
      if (node.name === 'AggregateExpr') {
        const modifier = node.getChild('AggregateModifier');
        const by = modifier?.getChild('By')
          ? (modifier.getChild('GroupingLabels')?.getChildren('LabelName').map(text) ?? [])
          : undefined;
        const body = node.getChild('FunctionCallBody');
        aggregations.push({ text: text(node), by, metrics: body ? metricNamesOf(text(body)) : new Set() });
      }
    },
  });
  return { selectors, aggregations };
}
