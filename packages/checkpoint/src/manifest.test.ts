import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointVerificationError } from './errors/index';
import { buildManifest, encodeManifest, parseManifest, REQUIRED_FILES, sha256Hex, verifyFile } from './manifest';

const meta = { runId: 'r', step: 5, epochEnd: true, createdAt: '2026-01-01T00:00:00.000Z' };
const files = REQUIRED_FILES.map((name, i) => ({ name, bytes: new Uint8Array([i, i + 1, i + 2]) }));

test('manifest: round trip, sizes and sha256 of every file', () => {
  const m = buildManifest(meta, files);
  assert.equal(m.files.length, REQUIRED_FILES.length);
  // sha256 of the empty string, the classic check value.
  assert.equal(sha256Hex(new Uint8Array()), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.deepEqual(parseManifest(encodeManifest(m), { runId: 'r', step: 5 }), m);
  for (const [i, f] of files.entries()) verifyFile(m.files[i] as (typeof m.files)[number], f.bytes);
});

test('manifest: a changed byte or length fails, naming the file', () => {
  const m = buildManifest(meta, files);
  const entry = m.files[1] as (typeof m.files)[number];
  const err = (fn: () => void) => {
    try {
      fn();
    } catch (e) {
      return e as CheckpointVerificationError;
    }
    assert.fail('expected a verification error');
  };
  const flipped = err(() => verifyFile(entry, new Uint8Array([1, 2, 4])));
  assert.ok(flipped instanceof CheckpointVerificationError);
  assert.equal(flipped.file, entry.name);
  assert.match(flipped.message, /sha256/);
  assert.match(err(() => verifyFile(entry, new Uint8Array([1, 2]))).message, new RegExp(`${entry.name}: size 2`));
});

test('manifest: hostile or inconsistent manifests are refused', () => {
  const good = buildManifest(meta, files);
  const bytes = (m: unknown) => new TextEncoder().encode(JSON.stringify(m));
  const cases: [string, unknown][] = [
    ['path escape', { ...good, files: [...good.files, { name: '../../etc/passwd', size: 1, sha256: 'a'.repeat(64) }] }],
    ['absolute path', { ...good, files: [...good.files, { name: '/etc/passwd', size: 1, sha256: 'a'.repeat(64) }] }],
    ['subdirectory', { ...good, files: [...good.files, { name: 'a/b', size: 1, sha256: 'a'.repeat(64) }] }],
    ['duplicate', { ...good, files: [...good.files, good.files[0]] }],
    ['self', { ...good, files: [...good.files, { name: 'manifest.json', size: 1, sha256: 'a'.repeat(64) }] }],
    ['missing required', { ...good, files: good.files.slice(1) }],
    ['bad digest', { ...good, files: [{ ...good.files[0], sha256: 'xyz' }, ...good.files.slice(1)] }],
    ['other step', { ...good, step: 6 }],
    ['other run', { ...good, runId: 'q' }],
    ['unknown key', { ...good, extra: 1 }],
  ];
  for (const [name, m] of cases) {
    assert.throws(() => parseManifest(bytes(m), { runId: 'r', step: 5 }), CheckpointVerificationError, name);
  }
  assert.throws(() => parseManifest(new TextEncoder().encode('{'), { runId: 'r', step: 5 }), /not valid JSON/);
  assert.throws(() => buildManifest(meta, [...files, { name: '../x', bytes: new Uint8Array() }]), /malformed/);
});
