// A resume that fails is reported at once with its real error, not as a TIMEOUT a minute later.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { DiskBlobStore } from "../../src/storage/index.js";
import { PraaS } from "../../src/sdk/index.js";
import { PraaSError } from "../../src/protocol/index.js";
import { makeTempDir } from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let plane: ControlPlane | undefined;

beforeAll(async () => {
  temp = await makeTempDir("failed-resume");
  plane = await ControlPlane.start({
    port: 0,
    controlPort: 0,
    dataDir: temp.dir,
    logLevel: "error",
  });
});

afterAll(async () => {
  await plane?.stop();
  await temp?.remove();
});

describe("invoking a swapped process whose resume fails", () => {
  it("answers with the resume's own error, and the process stays swapped", async () => {
    const client = new PraaS(plane!.url);
    await client.deploy("counter", "examples/counter");
    await client.createProcess("counter", "lost", { memory: 128 });
    await client.invoke("counter", "add", "3", { process: "lost" });
    await client.swap("counter", "lost");
    const blobs = await DiskBlobStore.open(`${temp.dir}/blobs`);
    expect(await blobs.delete("swaps/counter/lost")).toBe(true);
    await blobs.close();

    // The default start timeout is 60 s: waiting for it would outlast this test's 30 s.
    const error = await client.invoke("counter", "get", "", { process: "lost" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PraaSError);
    expect((error as PraaSError).code).toBe("STORAGE_ERROR");
    expect((error as PraaSError).message).toMatch(/swapped state/);
    expect((await client.getProcess("counter", "lost")).status).toBe("swapped");
    await client.close();
  });
});
