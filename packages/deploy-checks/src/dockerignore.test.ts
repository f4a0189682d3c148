import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dockerignore } from './dockerignore';

test('dockerignore: root-relative patterns, ** across directories, ! re-includes, last match wins', () => {
  const ignored = dockerignore(
    ['# c', '**/node_modules', 'data', '/checkpoints/', 'packages/*/build', '.env.*', '!.env.example'].join('\n'),
  );
  const expectations: [string, boolean][] = [
    ['node_modules/x/index.js', true],
    ['packages/a/node_modules/b', true],
    ['data/mnist/t10k.gz', true],
    ['packages/model/src/data/x.ts', false],
    ['checkpoints/run/1', true],
    ['packages/native-kernels/build/Release/x.node', true],
    ['packages/native-kernels/binding.gyp', false],
    ['.env.local', true],
    ['.env.example', false],
    ['pnpm-lock.yaml', false],
  ];
  for (const [path, expected] of expectations) assert.equal(ignored(path), expected, path);
});
