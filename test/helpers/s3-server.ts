/**
 * s3rver (an S3 server in this process, on loopback) with its one race closed: its filesystem
 * store answers a PUT of a whole body as soon as it has started writing the object's file, so
 * a GET right after can find no object (about one run in ten of the blob-store suite). S3
 * reads its own writes, and the tests rely on that: the PUT here is answered once the file
 * holds every byte. Tests import S3rver from here, not from "s3rver".
 */
import { stat } from "node:fs/promises";
import { createRequire } from "node:module";
import S3rver from "s3rver";

interface StoredObject {
  bucket: string;
  key: string;
}

interface FilesystemStore {
  putObject: (this: FilesystemStore, object: StoredObject) => Promise<{ size: number }>;
  getResourcePath(bucket: string, key: string, kind: string): string;
}

const WRITE_BOUND_MS = 10_000;

const require = createRequire(import.meta.url);
const store = (require("s3rver/lib/stores/filesystem.js") as { prototype: FilesystemStore })
  .prototype;
const putObject = store.putObject;

store.putObject = async function (this: FilesystemStore, object) {
  const stored = await putObject.call(this, object);
  await untilWritten(this.getResourcePath(object.bucket, object.key, "object"), stored.size);
  return stored;
};

/** Waits (bounded) until `file` holds `size` bytes. */
async function untilWritten(file: string, size: number): Promise<void> {
  const deadline = Date.now() + WRITE_BOUND_MS;
  while ((await stat(file).catch(() => undefined))?.size !== size) {
    if (Date.now() > deadline) throw new Error(`s3rver did not write ${file} within bound`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export default S3rver;
