import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type DownloadOptions, ensureMnist } from './download';
import { MNIST_FILES } from './files';
import { IdxFormatError, parseImages, parseLabels } from './idx';

/** One split of MNIST, as stored: bytes 0-255, 784 per sample. */
export interface MnistSplit {
  readonly count: number;
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

export interface Mnist {
  readonly train: MnistSplit;
  readonly test: MnistSplit;
}

export const MNIST_PIXELS = 28 * 28;

export interface LoadMnistOptions extends DownloadOptions {
  /** Fetch missing files from the mirrors first. Default true. */
  download?: boolean;
}

/** Reads (downloading first when missing) and validates the four MNIST files in `dir`. */
export async function loadMnist(dir: string, options: LoadMnistOptions = {}): Promise<Mnist> {
  if (options.download ?? true) await ensureMnist(dir, options);
  const read = async (name: string) => {
    const path = join(dir, name);
    try {
      return { path, bytes: new Uint8Array(await readFile(path)) };
    } catch (err) {
      throw new IdxFormatError(
        `${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  };
  const split = async (images: string, labels: string): Promise<MnistSplit> => {
    const [img, lab] = await Promise.all([read(images), read(labels)]);
    const parsedImages = parseImages(img.bytes, img.path);
    const parsedLabels = parseLabels(lab.bytes, lab.path);
    if (parsedImages.count !== parsedLabels.count) {
      throw new IdxFormatError(
        `${img.path} has ${parsedImages.count} images but ${lab.path} has ${parsedLabels.count} labels`,
      );
    }
    return { count: parsedImages.count, pixels: parsedImages.pixels, labels: parsedLabels.labels };
  };
  const train = await split(MNIST_FILES.trainImages.name, MNIST_FILES.trainLabels.name);
  const test = await split(MNIST_FILES.testImages.name, MNIST_FILES.testLabels.name);
  return { train, test };
}
