import type { StoreConfig } from '../config';
import { LocalStore } from './local-store';
import type { ObjectStore } from './object-store';
import { S3Store } from './s3-store';

/** The store a config names: S3 when a bucket is configured, otherwise the local directory. */
export function createStore(config: StoreConfig): ObjectStore {
  if (config.kind === 'local') return new LocalStore(config.dir);
  return new S3Store({
    bucket: config.bucket,
    region: config.region,
    prefix: config.prefix,
    forcePathStyle: config.forcePathStyle,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
  });
}
