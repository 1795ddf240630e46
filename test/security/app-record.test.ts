// What a deploy stores for isolation: the app's environment and permissions from praas.json,
// and a peer secret made once per application and kept across redeploys.
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packDirectory } from "../../src/apps/index.js";
import { resolveControlPlaneConfig } from "../../src/control-plane/config.js";
import { AppService } from "../../src/control-plane/app-service.js";
import { NO_PERMISSIONS } from "../../src/protocol/index.js";
import { DiskBlobStore, MemoryMetadataStore } from "../../src/storage/index.js";
import { makeTempDir } from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let store: MemoryMetadataStore;
let apps: AppService;

beforeAll(async () => {
  temp = await makeTempDir("app-record");
  store = new MemoryMetadataStore();
  const blobs = await DiskBlobStore.open(path.join(temp.dir, "blobs"));
  apps = new AppService(resolveControlPlaneConfig({ dataDir: temp.dir }), store, blobs);
});

afterAll(async () => {
  await temp?.remove();
});

const fixture = (name: string): Promise<Buffer> =>
  packDirectory(path.resolve("test/fixtures/apps", name));

describe("deploy", () => {
  it("stores the env and permissions, and one peer secret per application", async () => {
    await apps.deploy("iso", await fixture("isolation"));
    const first = await store.getApp("iso");
    expect(first?.env).toEqual({ GREETING: "hello from praas.json" });
    expect(first?.permissions).toEqual(NO_PERMISSIONS);
    expect(first?.peerSecret).toMatch(/^[\w-]{40,}$/);
    await apps.deploy("iso", await fixture("isolation"));
    expect((await store.getApp("iso"))?.peerSecret).toBe(first?.peerSecret);
    await apps.deploy("echo", await fixture("echo-js"));
    expect((await store.getApp("echo"))?.peerSecret).not.toBe(first?.peerSecret);
    expect(JSON.stringify(await apps.get("iso"))).not.toContain(first?.peerSecret);
  });
});
