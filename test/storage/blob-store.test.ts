import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { setImmediate as nextTurn } from "node:timers/promises";
import S3rver from "../helpers/s3-server.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBlobStore } from "../../src/storage/index.js";
import { DiskBlobStore } from "../../src/storage/disk-blob-store.js";
import { S3BlobStore } from "../../src/storage/s3-blob-store.js";
import { blobStoreConformance } from "./blob-store.conformance.js";

const MiB = 1024 * 1024;
const scratch: string[] = [];

async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), `praas-${label}-`));
  scratch.push(dir);
  return dir;
}

afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

blobStoreConformance("DiskBlobStore", async () => DiskBlobStore.open(await tempDir("disk")));

describe("S3BlobStore on s3rver", () => {
  let server: S3rver | undefined;
  let endpoint = "";
  let buckets = 0;

  beforeAll(async () => {
    const directory = await tempDir("s3rver");
    server = new S3rver({ address: "127.0.0.1", port: 0, silent: true, directory });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await server?.close();
  });

  // A new bucket per store, so each test also exercises bucket creation in open().
  const openStore = (prefix?: string) =>
    S3BlobStore.open({
      endpoint,
      bucket: `praas-test-${++buckets}`,
      accessKeyId: "S3RVER",
      secretAccessKey: "S3RVER",
      prefix,
    });

  blobStoreConformance("S3BlobStore", () => openStore());

  it("opens through openBlobStore, creating the bucket", async () => {
    const bucket = `praas-factory-${++buckets}`;
    const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
    const store = await openBlobStore({ kind: "s3", endpoint, bucket, ...credentials });
    try {
      expect(store.kind).toBe("s3");
      await store.put("k", Buffer.from("v"));
      const again = await openBlobStore({ kind: "s3", endpoint, bucket, ...credentials });
      expect((await again.getBytes("k"))?.toString()).toBe("v"); // an existing bucket is fine
      await again.close();
    } finally {
      await store.close();
    }
  });
  blobStoreConformance("S3BlobStore with a key prefix", () => openStore("tenant/"));
});

describe("DiskBlobStore specifics", () => {
  it("opens through openBlobStore, creating the root directory", async () => {
    const root = path.join(await tempDir("disk-factory"), "nested", "root");
    const store = await openBlobStore({ kind: "disk", root });
    expect(store.kind).toBe("disk");
    await store.put("a/b", Buffer.from("x"));
    expect(await readdir(path.join(root, "a"))).toEqual(["b"]);
  });

  it("streams a 128 MiB body in and out without holding it whole", async () => {
    const store = await DiskBlobStore.open(await tempDir("disk-big"));
    const sent = createHash("sha256");
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 128; i++) {
        await nextTurn();
        const chunk = Buffer.alloc(MiB, i);
        sent.update(chunk);
        yield chunk;
      }
    }
    await expect(store.put("big", body())).resolves.toEqual({ size: 128 * MiB });
    const received = createHash("sha256");
    let largestChunk = 0;
    for await (const chunk of (await store.get("big")) ?? []) {
      received.update(chunk);
      largestChunk = Math.max(largestChunk, chunk.length);
    }
    expect(received.digest("hex")).toBe(sent.digest("hex"));
    expect(largestChunk).toBeLessThanOrEqual(MiB);
  });

  it("removes the temp file of a failed put and keeps keys inside the root", async () => {
    const root = await tempDir("disk-tmp");
    const store = await DiskBlobStore.open(root);
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(1024);
      await nextTurn();
      throw new Error("stop");
    }
    await expect(store.put("dir/blob", failing())).rejects.toMatchObject({ code: "STORAGE_ERROR" });
    expect(await readdir(path.join(root, "dir"))).toEqual([]);
    await store.put("dir/blob", Buffer.from("x"));
    expect(await readdir(path.join(root, "dir"))).toEqual(["blob"]);
  });
});
