// The bundle a process fetches over the control link (AppService.bundle): its application's
// deployed code, never another application's, and a clear error when it is gone.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../../src/apps/index.js";
import { AppService } from "../../src/control-plane/app-service.js";
import { resolveControlPlaneConfig } from "../../src/control-plane/config.js";
import { openBlobStore, openMetadataStore, type BlobStore } from "../../src/storage/index.js";
import { makeTempDir } from "../helpers/process-harness.js";

describe("AppService.bundle", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let blobs: BlobStore;
  let apps: AppService;
  let counterKey = "";

  beforeAll(async () => {
    temp = await makeTempDir("app-bundle");
    const config = resolveControlPlaneConfig({ dataDir: temp.dir });
    blobs = await openBlobStore({ kind: "disk", root: path.join(temp.dir, "blobs") });
    apps = new AppService(config, await openMetadataStore({ kind: "memory" }), blobs);
    await apps.deploy("counter", await packDirectory(path.resolve("examples/counter")));
    await apps.deploy("pingpong", await packDirectory(path.resolve("examples/ping-pong")));
    counterKey = (await blobs.list("apps/counter/"))[0] ?? "";
  });

  afterAll(async () => {
    await blobs?.close();
    await temp?.remove();
  });

  it("serves the application's own bundle", async () => {
    const code = (await apps.bundle("counter", counterKey)).toString();
    expect(code).toContain("export");
  });

  it("refuses a key of another application, or one that climbs out", async () => {
    await expect(apps.bundle("pingpong", counterKey)).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    await expect(apps.bundle("pingpong", "apps/pingpong/../counter/x.mjs")).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
  });

  it("says STORAGE_ERROR when the bundle is gone", async () => {
    await expect(apps.bundle("counter", "apps/counter/missing.mjs")).rejects.toMatchObject({
      code: "STORAGE_ERROR",
    });
  });

  it("names the application's version whose bundle the blob store lost, and the key", async () => {
    const bytes = await apps.bundle("counter", counterKey);
    await blobs.delete(counterKey);
    try {
      await expect(apps.bundle("counter", counterKey)).rejects.toMatchObject({
        code: "STORAGE_ERROR",
        message: expect.stringContaining(
          `bundle of application counter version 1 is missing from the blob store (${counterKey})`,
        ) as unknown,
      });
    } finally {
      await blobs.put(counterKey, bytes);
    }
  });
});
