/**
 * Blob store: where application bundles and swapped process state live. Keys are
 * slash-separated paths of safe names (e.g. `swaps/counter/p1`). Contract, checked by
 * test/storage/blob-store.conformance.ts against every implementation:
 *
 * - `put` is atomic: a reader sees the old blob or the whole new one, never a partial write;
 *   a failed or aborted put leaves the old blob in place. It resolves with the stored size.
 * - `get` streams the blob; `undefined` when the key is absent.
 * - `delete` resolves `true` when something was deleted; deleting a missing key is not an error.
 * - `list(prefix)` gives every key that starts with `prefix`, sorted.
 * - Failures reject with a PraaSError of code STORAGE_ERROR (or INVALID_NAME for a bad key).
 */
export type BlobBody = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

export interface BlobStat {
  size: number;
}

export interface BlobStore {
  readonly kind: "disk" | "s3";
  put(key: string, body: BlobBody): Promise<BlobStat>;
  get(key: string): Promise<AsyncIterable<Buffer> | undefined>;
  /** The whole blob in memory; for small blobs such as bundles. */
  getBytes(key: string): Promise<Buffer | undefined>;
  stat(key: string): Promise<BlobStat | undefined>;
  delete(key: string): Promise<boolean>;
  list(prefix: string): Promise<string[]>;
  close(): Promise<void>;
}
