import type { Readable } from 'node:stream';
import {
  type BucketLocationConstraint,
  CreateBucketCommand,
  type CreateBucketCommandInput,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  NoSuchKey,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { CheckpointNotFoundError } from '../errors/index';
import type { ObjectStore, StoredObject } from './object-store';
import { assertSafeKey, assertSafePrefix } from './safe-key';

export interface S3StoreOptions {
  readonly bucket: string;
  /** Endpoint URL of an S3-compatible server (MinIO, s3rver). Default: AWS's endpoint for the region. */
  readonly endpoint?: string;
  /** Default `us-east-1`. */
  readonly region?: string;
  /** Key prefix inside the bucket, without leading or trailing `/`. Default: none. */
  readonly prefix?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which MinIO and s3rver need. Default false. */
  readonly forcePathStyle?: boolean;
  /** Explicit credentials (tests). Default: the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, role). */
  readonly credentials?: S3ClientConfig['credentials'];
  /** Keys per ListObjectsV2 page; tests lower it to exercise paging. Default 1000 (the S3 maximum). */
  readonly pageSize?: number;
  /** Objects above this size go up in parallel multipart chunks of this size. Default 8 MiB. */
  readonly partSize?: number;
  /** SDK attempts per request (its own short retries; the checkpoint writer retries whole saves). Default 2. */
  readonly maxAttempts?: number;
}

/** Objects in an S3 bucket (AWS S3, MinIO, s3rver), all under one key prefix. */
export class S3Store implements ObjectStore {
  readonly client: S3Client;
  readonly description: string;
  private readonly bucket: string;
  private readonly region: string;
  private readonly prefix: string;
  private readonly pageSize: number;
  private readonly partSize: number;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.region = options.region ?? 'us-east-1';
    this.prefix = options.prefix ? `${options.prefix.replace(/^\/+|\/+$/g, '')}/` : '';
    if (this.prefix) assertSafePrefix(this.prefix);
    this.pageSize = options.pageSize ?? 1000;
    this.partSize = Math.max(options.partSize ?? 8 * 1024 * 1024, 5 * 1024 * 1024);
    this.description = `s3://${this.bucket}/${this.prefix}${options.endpoint ? ` at ${options.endpoint}` : ''}`;
    this.client = new S3Client({
      region: this.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: options.maxAttempts ?? 2,
      // Measured with s3rver: with the SDK's default (WHEN_SUPPORTED) a streamed PutObject is sent with aws-chunked
      // framing and trailing checksums, which s3rver (and older MinIO) store verbatim, corrupting the object.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // A killed server must fail the attempt in seconds so that the writer's backoff takes over.
      requestHandler: { connectionTimeout: 5000, requestTimeout: 120_000 },
    });
  }

  private key(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    // Upload sends one PutObject below partSize and a multipart upload above it; S3 makes either visible
    // atomically on completion.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.key(key), Body: body },
      partSize: this.partSize,
      queueSize: 4,
      leavePartsOnError: false,
    });
    await upload.done();
  }

  async get(key: string): Promise<Uint8Array> {
    const body = await this.getBody(key);
    return body.transformToByteArray();
  }

  async getStream(key: string): Promise<Readable> {
    const body = await this.getBody(key);
    return body as unknown as Readable;
  }

  private async getBody(key: string) {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      if (!out.Body) throw new CheckpointNotFoundError(`no body for object '${key}'`);
      return out.Body;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as Error).name === 'NoSuchKey') {
        throw new CheckpointNotFoundError(`no object '${key}' in ${this.description}`);
      }
      throw err;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    assertSafePrefix(prefix);
    const out: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.prefix + prefix,
          MaxKeys: this.pageSize,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key?.startsWith(this.prefix)) {
          out.push({ key: object.Key.slice(this.prefix.length), size: object.Size ?? 0 });
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  async delete(keys: readonly string[]): Promise<void> {
    // One DeleteObject per key rather than DeleteObjects: the batch call requires a Content-MD5 or checksum
    // header whose flavour S3-compatible servers disagree on, and checkpoints delete only a few keys at a time.
    const queue = keys.map((k) => this.key(k));
    const worker = async () => {
      for (let k = queue.shift(); k !== undefined; k = queue.shift()) {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  }

  /**
   * Creates the bucket unless it exists; true when it was created. What the compose stack's one-shot `createbuckets`
   * runs, so that the bundled S3 server needs no client image of its own. HEAD first because servers answer a
   * CreateBucket of an existing bucket differently (BucketAlreadyOwnedByYou, BucketAlreadyExists); a bucket that
   * exists but is not ours fails the HEAD with 403, as it should.
   */
  async ensureBucket(): Promise<boolean> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return false;
    } catch (err) {
      const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) throw err;
    }
    // AWS creates buckets outside us-east-1 only when the request names the region again.
    const input: CreateBucketCommandInput = { Bucket: this.bucket };
    if (this.region !== 'us-east-1') {
      input.CreateBucketConfiguration = { LocationConstraint: this.region as BucketLocationConstraint };
    }
    await this.client.send(new CreateBucketCommand(input));
    return true;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
