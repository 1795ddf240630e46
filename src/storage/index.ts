/** The storage layer: blob and metadata stores, and factories that open one from config. */
/**
 * The S3 and Redis implementations are loaded only when configured: their SDKs take hundreds
 * of milliseconds to import, which every process start (and resume) would otherwise pay.
 */
import { DiskBlobStore } from "./disk-blob-store.js";
import type { BlobStore } from "./blob-store.js";
import { MemoryMetadataStore } from "./memory-metadata-store.js";
import type { MetadataStore } from "./metadata-store.js";
import { FileMetadataStore } from "./file-metadata-store.js";
import type { S3BlobStoreOptions } from "./s3-blob-store.js";

export type * from "./blob-store.js";
export type * from "./metadata-store.js";
export { assertBlobKey, isValidBlobKey } from "./blob-keys.js";
export { DiskBlobStore } from "./disk-blob-store.js";
export type { S3BlobStoreOptions } from "./s3-blob-store.js";
export { MemoryMetadataStore } from "./memory-metadata-store.js";
export { FileMetadataStore } from "./file-metadata-store.js";
export type { RedisMetadataStoreOptions } from "./redis-metadata-store.js";

export type BlobStoreConfig =
  { kind: "disk"; root: string } | ({ kind: "s3" } & S3BlobStoreOptions);

export type MetadataStoreConfig =
  | { kind: "memory" }
  | { kind: "file"; dir: string }
  | { kind: "redis"; url: string; prefix?: string | undefined };

/** Opens a ready blob store: the disk root exists, the S3 bucket exists. */
export async function openBlobStore(config: BlobStoreConfig): Promise<BlobStore> {
  if (config.kind === "disk") return DiskBlobStore.open(config.root);
  const { S3BlobStore } = await import("./s3-blob-store.js");
  return S3BlobStore.open(config);
}

/** Opens a ready metadata store: for Redis, the server has answered; for a file, it is locked and read. */
export async function openMetadataStore(config: MetadataStoreConfig): Promise<MetadataStore> {
  if (config.kind === "memory") return new MemoryMetadataStore();
  if (config.kind === "file") return FileMetadataStore.open(config.dir);
  const { RedisMetadataStore } = await import("./redis-metadata-store.js");
  return RedisMetadataStore.open({ url: config.url, prefix: config.prefix });
}
