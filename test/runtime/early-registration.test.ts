// A starting process registers with its control plane as soon as it has its data-plane port,
// while its workers still load the application (they are the longest step of a start), and
// serves nobody before they are ready. It dials the control plane at the start (the connect
// overlaps the restore and the load) and registers over that connection once its state is back.
import { writeFile } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { launchProcess } from "../../src/runtime/launch.js";
import { FakeControlPlane, makeTempDir } from "../helpers/process-harness.js";

const SLOW_BUNDLE = `await new Promise((resolve) => setTimeout(resolve, 60_000));
export function late() {
  return "too late";
}
`;

let temp: Awaited<ReturnType<typeof makeTempDir>>;
const control = new FakeControlPlane();

beforeAll(async () => {
  temp = await makeTempDir("early-registration");
  await control.listen();
});

afterAll(async () => {
  await control.close();
  await temp.remove(); // kills the process: its command line names its bundle in there
});

it("registers while its workers still load a slow application, and is not active before they are ready", async () => {
  // Written as it is (a build's load check would refuse it): a minute before it exports.
  const bundle = path.join(temp.dir, "slow.mjs");
  await writeFile(bundle, SLOW_BUNDLE);
  const started = launchProcess({
    application: "slow",
    name: "p",
    bundlePath: bundle,
    blobs: { kind: "disk", root: temp.dir },
    control: `127.0.0.1:${control.port}`,
    token: "token-p",
    secret: "secret-p",
    readyTimeoutMs: 120_000,
  });
  started.catch(() => undefined); // never ready within the test; the temp dir's removal kills it
  // Waits (bounded) for the registration: before the change it came only after the load.
  const status = (await control.command("p", "status")) as { status: string; port: number };
  expect(status.status).toBe("starting");
  expect(status.port).toBeGreaterThan(0);
});

/** Resets the first connection it accepts (a control plane that dropped it); pipes the rest to `port`. */
function droppingFirst(port: number): { server: net.Server; sockets: net.Socket[] } {
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    if (sockets.length === 1) return void socket.resetAndDestroy();
    const upstream = net.connect(port, "127.0.0.1");
    sockets.push(upstream);
    socket.on("error", () => upstream.destroy()).pipe(upstream);
    upstream.on("error", () => socket.destroy()).pipe(socket);
  });
  return { server, sockets };
}

it("registers over a new connection when the control plane dropped the one it opened at the start", async () => {
  const bundle = path.join(temp.dir, "hello.mjs");
  await writeFile(bundle, 'export function hello() {\n  return "hi";\n}\n');
  const proxy = droppingFirst(control.port);
  await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
  const { port } = proxy.server.address() as net.AddressInfo;
  let launched: Awaited<ReturnType<typeof launchProcess>> | undefined;
  try {
    launched = await launchProcess({
      application: "hello",
      name: "redialled",
      bundlePath: bundle,
      blobs: { kind: "disk", root: temp.dir },
      control: `127.0.0.1:${port}`,
      token: "token-r",
      secret: "secret-r",
    });
    const status = (await control.command("redialled", "status")) as { status: string };
    expect(status.status).toBe("active");
    expect(proxy.sockets.length).toBeGreaterThanOrEqual(2); // the dropped one, then the one it uses
  } finally {
    launched?.child.kill("SIGKILL");
    await launched?.exited;
    for (const socket of proxy.sockets) socket.destroy();
    await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
  }
});

it("fails its start with STORAGE_ERROR, without registering, when its blob store cannot open", async () => {
  const bundle = path.join(temp.dir, "hello-2.mjs");
  await writeFile(bundle, 'export function hello() {\n  return "hi";\n}\n');
  const started = launchProcess({
    application: "hello",
    name: "no-store",
    bundlePath: bundle,
    blobs: { kind: "disk", root: path.join(bundle, "blobs") }, // under a file: cannot be made
    control: `127.0.0.1:${control.port}`,
    token: "token-n",
    secret: "secret-n",
  });
  await expect(started).rejects.toMatchObject({ code: "STORAGE_ERROR" });
  expect(control.registrations.map((fields) => fields[1])).not.toContain("no-store");
});
