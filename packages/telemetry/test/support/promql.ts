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
