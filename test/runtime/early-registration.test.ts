// A starting process registers with its control plane as soon as it has its data-plane port,
// while its workers still load the application (they are the longest step of a start), and
// serves nobody before they are ready.
import { writeFile } from "node:fs/promises";
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
