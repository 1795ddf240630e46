// The control-link port is stable by default (HTTP port + 1), and --advertise-host is where
// processes listen, what they advertise, and where they dial the control link.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { resolveControlPlaneConfig } from "../../src/control-plane/config.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

describe("control-link port default", () => {
  it("is the HTTP port + 1; 0 stays any free port", () => {
    expect(resolveControlPlaneConfig({ port: 9000 }).controlPort).toBe(9001);
    expect(resolveControlPlaneConfig({}).controlPort).toBe(8081);
    expect(resolveControlPlaneConfig({ port: 0 }).controlPort).toBe(0);
    expect(resolveControlPlaneConfig({ port: 9000, controlPort: 0 }).controlPort).toBe(0);
    expect(resolveControlPlaneConfig({ port: 9000, controlPort: 7000 }).controlPort).toBe(7000);
  });
});

describe("advertise host 127.0.0.2 (a loopback alias)", () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let plane: ControlPlane | undefined;

  beforeAll(async () => {
    temp = await makeTempDir("advertise-host");
    plane = await ControlPlane.start({
      port: 0,
      advertiseHost: "127.0.0.2",
      dataDir: temp.dir,
      logLevel: "error",
    });
  });

  afterAll(async () => {
    await plane?.stop();
    await temp?.remove();
  });

  it("describes processes at that host, and a direct connection there works", async () => {
    const client = new PraaS(plane!.url);
    await client.deploy("counter", "examples/counter");
    const proc = await client.createProcess("counter", "far", { memory: 128 });
    expect(proc.info.connection?.host).toBe("127.0.0.2");
    const conn = await proc.connect();
    expect(text(await conn.invoke("add", "4"))).toBe("4");
    await conn.close();
    // Through the control plane too (it dials the advertised address).
    expect(text(await client.invoke("counter", "get", "", { process: "far" }))).toBe("4");
    await client.close();
  });
});
