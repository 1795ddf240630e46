/**
 * BlobStore on any S3-compatible service (AWS, MinIO, s3rver...). Object key = `prefix + key`.
 * S3 makes every object write atomic; streamed bodies go through a multipart upload, which
 * only becomes visible on completion and is aborted on failure, so the old object survives.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { Readable } from "node:stream";
import { ByteCounter, bodyChunks } from "./blob-body.js";
import { assertBlobKey, assertBlobPrefix } from "./blob-keys.js";
import type { BlobBody, BlobStat, BlobStore } from "./blob-store.js";
import { guarded, guardedStream } from "./storage-error.js";

export interface S3BlobStoreOptions {
  /** e.g. `http://127.0.0.1:9000`; omit for AWS itself. */
  endpoint?: string | undefined;
  /** Default `us-east-1`. */
  region?: string | undefined;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `host/bucket/key` URLs instead of `bucket.host/key`; most self-hosted services need it. */
  forcePathStyle?: boolean | undefined;
  /** Prepended to every key, e.g. `praas/`; default none. */
  prefix?: string | undefined;
  /** Multipart part size in bytes; default (and S3's minimum) 5 MiB. */
  partSize?: number | undefined;
}

const MIN_PART_BYTES = 5 * 1024 * 1024;

export class S3BlobStore implements BlobStore {
  readonly kind = "s3";
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(options: S3BlobStoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? "";
    this.partSize = Math.max(options.partSize ?? MIN_PART_BYTES, MIN_PART_BYTES);
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region ?? "us-east-1",
      forcePathStyle: options.forcePathStyle ?? true,
      credentials: { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey },
      // Many S3-compatible services reject the SDK's default trailing checksums.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  /** A store whose bucket is known to exist. */
  static async open(options: S3BlobStoreOptions): Promise<S3BlobStore> {
    const store = new S3BlobStore(options);
    try {
      await store.init();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  /** Creates the bucket unless it already exists. */
  async init(): Promise<void> {
    await guarded(`create bucket ${this.bucket}`, async () => {
      if (await this.bucketExists()) return;
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    });
  }

  async put(key: string, body: BlobBody): Promise<BlobStat> {
    const Key = this.objectKey(key);
    return guarded(`put blob ${key}`, async () => {
      if (body instanceof Uint8Array) return this.putBytes(Key, body);
      return this.putStream(Key, bodyChunks(body));
    });
  }

  async get(key: string): Promise<AsyncIterable<Buffer> | undefined> {
    const output = await this.fetchObject(key);
    if (output === undefined) return undefined;
    return guardedStream<Buffer>(`read blob ${key}`, output.Body as Readable);
  }

  async getBytes(key: string): Promise<Buffer | undefined> {
    const output = await this.fetchObject(key);
    if (output === undefined) return undefined;
    const bytes = await guarded(`read blob ${key}`, () => output.Body!.transformToByteArray());
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  async stat(key: string): Promise<BlobStat | undefined> {
    const Key = this.objectKey(key);
    return guarded(`stat blob ${key}`, async () => {
      const head = await absentAsUndefined(this.client.send(this.headCommand(Key)));
      return head === undefined ? undefined : { size: head.ContentLength ?? 0 };
    });
  }

  async delete(key: string): Promise<boolean> {
    // S3 deletes are idempotent and silent about absence, so look first to report it.
    const existed = (await this.stat(key)) !== undefined;
    const Key = this.objectKey(key);
    await guarded(`delete blob ${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })),
    );
    return existed;
  }

  async list(prefix: string): Promise<string[]> {
    assertBlobPrefix(prefix);
    const keys = await guarded(`list blobs ${prefix}`, () =>
      this.listObjects(this.prefix + prefix),
    );
    return keys.map((objectKey) => objectKey.slice(this.prefix.length)).sort();
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }

  private objectKey(key: string): string {
    assertBlobKey(key);
    return this.prefix + key;
  }

  private async bucketExists(): Promise<boolean> {
    const found = await absentAsUndefined(
      this.client.send(new HeadBucketCommand({ Bucket: this.bucket })),
    );
    return found !== undefined;
  }

  private headCommand(Key: string): HeadObjectCommand {
    return new HeadObjectCommand({ Bucket: this.bucket, Key });
  }

  private async putBytes(Key: string, body: Uint8Array): Promise<BlobStat> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body }));
    return { size: body.byteLength };
  }

  /** Unknown length: a multipart upload (a single put when it fits in one part). */
  private async putStream(Key: string, body: AsyncIterable<Uint8Array>): Promise<BlobStat> {
    const counter = new ByteCounter();
    const Body = Readable.from(counter.count(body), { objectMode: false });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key, Body },
      partSize: this.partSize,
      queueSize: 2, // bounds memory to about two parts in flight
    });
    await upload.done();
    return { size: counter.bytes };
  }

  private async fetchObject(key: string) {
    const Key = this.objectKey(key);
    return guarded(`read blob ${key}`, () =>
      absentAsUndefined(this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key }))),
    );
  }

  private async listObjects(fullPrefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: fullPrefix,
          ContinuationToken: token,
        }),
      );
      for (const item of page.Contents ?? []) if (item.Key !== undefined) keys.push(item.Key);
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return keys;
  }
}

/** A 404 (NoSuchKey, NotFound, NoSuchBucket) becomes `undefined`; anything else rethrows. */
async function absentAsUndefined<T>(request: Promise<T>): Promise<T | undefined> {
  try {
    return await request;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  const { name, $metadata } = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return name === "NoSuchKey" || name === "NotFound" || $metadata?.httpStatusCode === 404;
}
