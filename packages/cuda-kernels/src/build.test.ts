/**
 * The kernels compile with nvcc, for every target, where nvcc exists (a skip that says how to get it where not;
 * a failure under GRADQ_REQUIRE_TOOLS=1). No GPU is needed to compile: scripts/gpu-check.sh runs them on one.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { findTool, skipWithoutTool } from '@gradq/testing';
import { ADDON, archsFrom, buildFatbin, DEFAULT_ARCHS, FATBIN, KERNELS, nvccArgs } from '../scripts/build.mjs';

const KERNEL_NAMES = [
  'gqk_gather',
  'gqk_bias_act',
  'gqk_mse_delta',
  'gqk_row_sse',
  'gqk_relu_backward',
  'gqk_col_sum',
  'gqk_tree_add',
];

describe('the kernels build', () => {
  test('machine code for Turing to Hopper and PTX of the newest, without fused multiply-adds', () => {
    assert.deepEqual(DEFAULT_ARCHS, [75, 80, 86, 89, 90]);
    const args = nvccArgs('k.cu', 'k.fatbin', DEFAULT_ARCHS).join(' ');
    for (const a of DEFAULT_ARCHS) assert.match(args, new RegExp(`arch=compute_${a},code=sm_${a}`));
    assert.match(args, /arch=compute_90,code=compute_90/);
    assert.match(args, /--fmad=false/);
    assert.deepEqual(archsFrom({ GRADQ_CUDA_ARCHS: '75, 100' }), [75, 100]);
    assert.throws(() => archsFrom({ GRADQ_CUDA_ARCHS: 'sm_90' }), /GRADQ_CUDA_ARCHS/);
  });

  test('nvcc compiles kernels.cu into a fatbin holding every kernel', { skip: skipWithoutTool('nvcc') }, () => {
    const nvcc = (findTool('nvcc') as readonly string[])[0] as string;
    const out = join(mkdtempSync(join(tmpdir(), 'gradq-fatbin-')), 'k.fatbin');
    const problem = buildFatbin(nvcc, out, DEFAULT_ARCHS);
    assert.equal(problem, undefined);
    const text = readFileSync(out).toString('latin1');
    for (const name of KERNEL_NAMES) assert.ok(text.includes(name), `${name} in the fatbin`);
    // The install built the same, since it finds nvcc where this test does: where it ran (it built the addon, or CI
    // requires it), not after `pnpm install --ignore-scripts`, which builds nothing.
    if (existsSync(ADDON) || process.env.GRADQ_REQUIRE_NATIVE === '1')
      assert.ok(existsSync(FATBIN), `${FATBIN} (pnpm install with nvcc reachable builds it)`);
    assert.ok(readFileSync(KERNELS, 'utf8').includes('--fmad=false'));
  });
});
