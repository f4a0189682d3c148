// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are compose variable references, not JS templates.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InterpolationError, interpolate, interpolateDeep, referencedVariables } from './interpolate';

test('interpolate follows the compose operators for unset, empty and set variables', () => {
  const env = { SET: 'v', EMPTY: '' };
  const cases: [string, string][] = [
    ['${SET}', 'v'],
    ['${UNSET}', ''],
    ['$SET/x', 'v/x'],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${SET:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['$$SET', '$SET'],
    ['${UNSET:-${SET}}', 'v'],
    ['a:${UNSET:-127.0.0.1}:${SET}', 'a:127.0.0.1:v'],
  ];
  for (const [input, expected] of cases) assert.equal(interpolate(input, env), expected, input);
});

test('interpolate throws naming the variable for ${VAR:?message}', () => {
  assert.throws(() => interpolate('${EMPTY:?must be set}', { EMPTY: '' }), InterpolationError);
  assert.throws(() => interpolate('${NOPE?}', {}), /NOPE/);
  assert.equal(interpolate('${EMPTY?x}', { EMPTY: '' }), '');
});

test('interpolateDeep rewrites strings only, keys untouched', () => {
  const doc = { '${K}': ['${A:-1}', 2, { x: '${B}' }], n: null };
  assert.deepEqual(interpolateDeep(doc, { B: 'b' }), { '${K}': ['1', 2, { x: 'b' }], n: null });
});

test('referencedVariables finds names in defaults too, not in $$ escapes', () => {
  assert.deepEqual([...referencedVariables({ a: '${A:-${B}}', b: ['$C', '$$NOT'], c: 3 })].sort(), ['A', 'B', 'C']);
});
