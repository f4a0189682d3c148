export { createStore } from './create-store';
export { LocalStore } from './local-store';
export type { ObjectStore, StoredObject } from './object-store';
export { S3Store, type S3StoreOptions } from './s3-store';
export { assertSafeKey, assertSafePrefix } from './safe-key';
