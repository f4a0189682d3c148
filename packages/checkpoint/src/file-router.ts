import { readFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

let registered = false;

/**
 * Makes `tf.loadLayersModel('file:///abs/dir/model.json')` (or `file://relative/model.json`) work with plain
 * `@tensorflow/tfjs` in Node, on any backend. tfjs-node registers its own `file://` handler; when one is already
 * present this does nothing, since two handlers for one URL make tfjs refuse to load. Safe to call many times.
 * Weight files must sit beside model.json: paths that climb out of its directory are refused.
 */
export function registerFileSystemRouter(): void {
  if (registered) return;
  registered = true;
  if (tf.io.getLoadHandlers('file:///probe/model.json').length > 0) return;
  tf.io.registerLoadRouter((url: string | string[]) => {
    const u = Array.isArray(url) ? url[0] : url;
    // tfjs treats a null from a router as "not mine", though its type says IOHandler.
    return (typeof u === 'string' && u.startsWith('file://') ? fileSystemLoadHandler(u) : null) as tf.io.IOHandler;
  });
}

/** An IOHandler reading model.json and its weight files from the local file system. */
export function fileSystemLoadHandler(url: string): tf.io.IOHandler {
  // file:///abs/path is a proper URL; tfjs-node also accepts file://relative/path, which URL parsing would mangle.
  const path = url.startsWith('file:///') ? fileURLToPath(url) : resolve(url.slice('file://'.length));
  return {
    load: async () => {
      const modelJson = JSON.parse(await readFile(path, 'utf8')) as tf.io.ModelJSON;
      const dir = dirname(path);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const file = resolve(dir, p);
            if (!file.startsWith(dir + sep)) throw new Error(`weights path '${p}' leaves ${dir}`);
            const bytes = await readFile(file);
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
          specs.push(...group.weights);
        }
        return [specs, tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}
