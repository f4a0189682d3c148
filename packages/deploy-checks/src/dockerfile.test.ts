import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseImage, effectiveInstructions, parseDockerfile, stageChain } from './dockerfile';

const TEXT = `# syntax=docker/dockerfile:1
ARG BASE=node:20-bookworm-slim
FROM \${BASE} AS build
RUN apt-get update \\
 # a comment inside a continuation is dropped
 && apt-get install -y gcc
FROM \${BASE} AS runtime
USER node
FROM runtime AS app
COPY --from=build /out /app
CMD ["node"]
`;

test('parseDockerfile joins continuations, drops comments, substitutes global ARGs in FROM', () => {
  const file = parseDockerfile(TEXT);
  assert.deepEqual(file.globalArgs, { BASE: 'node:20-bookworm-slim' });
  assert.deepEqual(
    file.stages.map((s) => [s.name, s.from]),
    [
      ['build', 'node:20-bookworm-slim'],
      ['runtime', 'node:20-bookworm-slim'],
      ['app', 'runtime'],
    ],
  );
  assert.equal(file.stages[0]?.instructions[0]?.args, 'apt-get update  && apt-get install -y gcc');
  assert.equal(file.stages[0]?.instructions[0]?.line, 4);
});

test('stageChain and effectiveInstructions follow FROM <stage>, not COPY --from', () => {
  const file = parseDockerfile(TEXT);
  assert.deepEqual(
    stageChain(file, 'app').map((s) => s.name),
    ['runtime', 'app'],
  );
  assert.equal(baseImage(file, 'app'), 'node:20-bookworm-slim');
  assert.deepEqual(
    effectiveInstructions(file, 'app').map((i) => i.keyword),
    ['USER', 'COPY', 'CMD'],
  );
});
