// A process started without --bundle fetches its bundle from the control plane by key, over
// the control-link port, authenticated by its secret (how a container gets its code).
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readFile, rm, stat } from "node:fs/promises";
import { fetchBundleFile } from "../../src/runtime/bundle-fetch.js";
import { launchProcess } from "../../src/runtime/launch.js";
import { connect } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { ControlHarness } from "./control-harness.js";

describe("bundle over the control link", () => {
  const control = new ControlHarness();
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let key = "";

  beforeAll(async () => {
    temp = await makeTempDir("bundle-fetch");
    await control.listen("127.0.0.1");
    key = await control.addBundle("fetcher", "echo-js");
  });

  afterAll(async () => {
    await control.close();
    await temp?.remove();
  });

  function launch(name: string, bundleKey: string, secret?: string) {
    const spec = control.spec("fetcher", name, bundleKey);
    return launchProcess({
      application: "fetcher",
      name,
      bundleKey,
      blobs: { kind: "disk", root: path.join(temp.dir, "blobs") },
      control: spec.controlAddress,
      token: spec.token,
      secret: secret ?? spec.secret,
      logLevel: "error",
    });
  }

  it("serves the fetched bundle and registers", async () => {
    const launched = await launch("f1", key);
    try {
      const conn = await connect({
        host: launched.host,
        port: launched.port,
        token: launched.token,
      });
      expect(Buffer.from(await conn.invoke("echo", "fetched")).toString()).toBe("fetched");
      await conn.close();
      expect(control.isRegistered("fetcher", "f1")).toBe(true);
    } finally {
      launched.child.kill("SIGKILL");
      await launched.exited;
    }
  });

  it("writes the fetched bundle to an owner-only file (in-process)", async () => {
    const spec = control.spec("fetcher", "f3", key);
    const [host = "", port = ""] = spec.controlAddress.split(":");
    const source = { host, port: Number(port), secret: spec.secret, application: "fetcher" };
    const file = await fetchBundleFile({ ...source, process: "f3", key });
    expect(await readFile(file)).toEqual(await spec.loadBundle());
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    await rm(path.dirname(file), { recursive: true }); // else only this worker's exit would
  });

  it("is refused with a wrong secret", async () => {
    await expect(launch("f2", key, "wrong")).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});
