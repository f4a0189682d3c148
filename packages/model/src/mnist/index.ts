export { DownloadError, type DownloadOptions, ensureMnist } from './download';
export { MNIST_FILES, MNIST_MIRRORS, type MnistFileKey } from './files';
export { IdxFormatError, type IdxImages, type IdxLabels, parseImages, parseLabels } from './idx';
export { type LoadMnistOptions, loadMnist, MNIST_PIXELS, type Mnist, type MnistSplit } from './load';
