import { createHash } from 'node:crypto';
import { z } from 'zod';
import { CheckpointVerificationError } from './errors/index';
import { CHECKPOINT_FILES, FILE_NAME_PATTERN } from './keys';

export const MANIFEST_FORMAT = 'gradq-checkpoint-manifest/1';

/** Files every trustworthy checkpoint has besides the manifest (the preview is optional). */
export const REQUIRED_FILES: readonly string[] = [
  CHECKPOINT_FILES.modelJson,
  CHECKPOINT_FILES.weights,
  CHECKPOINT_FILES.optimizer,
  CHECKPOINT_FILES.optimizerJson,
  CHECKPOINT_FILES.trainer,
];

export interface ManifestFile {
  /** One path segment (`weights.bin`), relative to the checkpoint. */
  readonly name: string;
  readonly size: number;
  /** Lowercase hex. */
  readonly sha256: string;
}

/** Written last: a checkpoint exists for readers exactly when its manifest does and every file matches it. */
export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly runId: string;
  readonly step: number;
  /** Saved right after an epoch's evaluation (retention may keep every one of these). */
  readonly epochEnd: boolean;
  /** ISO time of the save. */
  readonly createdAt: string;
  readonly files: readonly ManifestFile[];
}

const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  runId: z.string(),
  step: z.number().int().nonnegative(),
  epochEnd: z.boolean(),
  createdAt: z.string(),
  files: z.array(
    z.strictObject({
      name: z
        .string()
        .regex(FILE_NAME_PATTERN, 'must be one plain file name')
        .refine((n) => !n.includes('..') && n !== CHECKPOINT_FILES.manifest, 'must be a plain file name'),
      size: z.number().int().nonnegative(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
    }),
  ),
});

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function buildManifest(
  meta: { runId: string; step: number; epochEnd: boolean; createdAt: string },
  files: readonly { name: string; bytes: Uint8Array }[],
): Manifest {
  const manifest: Manifest = {
    format: MANIFEST_FORMAT,
    ...meta,
    files: files.map(({ name, bytes }) => ({ name, size: bytes.byteLength, sha256: sha256Hex(bytes) })),
  };
  // Validate what we write by the rules we read with, so a bad file name fails the save, not a later resume.
  checkManifest(manifest, meta);
  return manifest;
}

export function encodeManifest(manifest: Manifest): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`);
}

/**
 * Parses and checks a manifest read from `runs/<runId>/checkpoints/<step>/`: schema, safe unique file names, the
 * required files, and that it names this run and step (so a manifest copied from elsewhere is not trusted).
 */
export function parseManifest(bytes: Uint8Array, expected: { runId: string; step: number }): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new CheckpointVerificationError(
      `manifest.json is not valid JSON: ${(err as Error).message}`,
      CHECKPOINT_FILES.manifest,
    );
  }
  return checkManifest(json, expected);
}

function checkManifest(json: unknown, expected: { runId: string; step: number }): Manifest {
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new CheckpointVerificationError(
      `manifest.json is malformed: ${issue?.path.join('.')}: ${issue?.message}`,
      CHECKPOINT_FILES.manifest,
    );
  }
  const m = parsed.data as Manifest;
  if (m.runId !== expected.runId || m.step !== expected.step) {
    throw new CheckpointVerificationError(
      `manifest.json describes run ${m.runId} step ${m.step}, not run ${expected.runId} step ${expected.step}`,
      CHECKPOINT_FILES.manifest,
    );
  }
  const names = new Set<string>();
  for (const f of m.files) {
    if (names.has(f.name)) {
      throw new CheckpointVerificationError(`manifest.json lists ${f.name} twice`, CHECKPOINT_FILES.manifest);
    }
    names.add(f.name);
  }
  const missing = REQUIRED_FILES.filter((n) => !names.has(n));
  if (missing.length) {
    throw new CheckpointVerificationError(
      `manifest.json does not list ${missing.join(', ')}`,
      CHECKPOINT_FILES.manifest,
    );
  }
  return m;
}

export function manifestEntry(manifest: Manifest, name: string): ManifestFile {
  const entry = manifest.files.find((f) => f.name === name);
  if (!entry) throw new CheckpointVerificationError(`manifest.json does not list ${name}`, name);
  return entry;
}

/** Throws {@link CheckpointVerificationError} naming the file unless `bytes` has the listed size and sha256. */
export function verifyFile(entry: ManifestFile, bytes: Uint8Array): void {
  verifyDigest(entry, bytes.byteLength, sha256Hex(bytes));
}

export function verifyDigest(entry: ManifestFile, size: number, sha256: string): void {
  if (size !== entry.size) {
    throw new CheckpointVerificationError(`${entry.name}: size ${size} bytes, manifest says ${entry.size}`, entry.name);
  }
  if (sha256 !== entry.sha256) {
    throw new CheckpointVerificationError(
      `${entry.name}: sha256 ${sha256} does not match the manifest's ${entry.sha256}`,
      entry.name,
    );
  }
}
