/** The four MNIST files, their sha256 (the original gzipped files) and the mirrors that serve them. */
export const MNIST_FILES = {
  trainImages: {
    name: 'train-images-idx3-ubyte.gz',
    sha256: '440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609',
  },
  trainLabels: {
    name: 'train-labels-idx1-ubyte.gz',
    sha256: '3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c',
  },
  testImages: {
    name: 't10k-images-idx3-ubyte.gz',
    sha256: '8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6',
  },
  testLabels: {
    name: 't10k-labels-idx1-ubyte.gz',
    sha256: 'f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6',
  },
} as const;

export type MnistFileKey = keyof typeof MNIST_FILES;

/** Tried in order; each serves the four original files under these names. */
export const MNIST_MIRRORS: readonly string[] = [
  'https://ossci-datasets.s3.amazonaws.com/mnist/',
  'https://storage.googleapis.com/cvdf-datasets/mnist/',
  'https://yann.lecun.com/exdb/mnist/',
];
