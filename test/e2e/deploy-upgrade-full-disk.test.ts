// `praas deploy --upgrade` when a process cannot move (its swap finds the disk full): the
// deploy stands and is printed, the CLI names the process that kept its version and exits 1,
// and that process serves on with its state; once there is room, its upgrade goes through.
// Real `praas up` on a real full disk.
import { rmSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, runProcessesMatching } from "../helpers/process-harness.js";
import { cli, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";
import { fillDisk, mountSmallDisk, type SmallDisk } from "../helpers/small-disk.js";

const STATE_BYTES = 4 * 1024 * 1024;
/** Room left on the disk: enough for a bundle and records, not for the state's snapshot. */
const ROOM_BYTES = 512 * 1024;

const SOURCE = `
export async function fill(_input, ctx) {
  await ctx.state.put("big", new Uint8Array(${STATE_BYTES}).fill(7));
  return "filled";
}
export async function size(_input, ctx) {
  return String((await ctx.state.get("big"))?.length ?? 0);
}
`;

it("deploy --upgrade on a full disk: the deploy stands, the process keeps its version and state", async () => {
  let disk: SmallDisk | undefined;
  let plane: RunningPraaS | undefined;
  const temp = await makeTempDir("e2e-upgrade-full");
  try {
    disk = await mountSmallDisk("upgrade-full", 32);
    plane = await startPraaS({ dataDir: disk.root, extraArgs: ["--warm-pool", "0"] });
    const client = new PraaS(plane.url);
    const dir = path.join(temp.dir, "app");
    await mkdir(dir);
    await writeFile(path.join(dir, "index.js"), SOURCE);
    await client.deploy("big", dir);
    await client.createProcess("big", "p1");
    await client.invoke("big", "fill", "", { process: "p1" });
    await writeFile(path.join(dir, "index.js"), `${SOURCE}\n// version 2\n`);
    const filler = fillDisk(disk.root, ROOM_BYTES);

    const run = await cli(["deploy", dir, "--app", "big", "--upgrade", "--url", plane.url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("deployed big");
    expect(run.stderr).toMatch(/^error \[STORAGE_ERROR\]: deployed big, but could not upgrade p1/m);
    expect((await client.getApplication("big")).version).toBe(2);
    const kept = await client.getProcess("big", "p1");
    expect([kept.info.status, kept.info.version]).toEqual(["active", 1]);
    const size = await client.invoke("big", "size", "", { process: "p1" });
    expect(Buffer.from(size).toString()).toBe(String(STATE_BYTES));

    rmSync(filler);
    await client.upgrade("big", "p1");
    expect((await client.getProcess("big", "p1")).info.version).toBe(2);
    const after = await client.invoke("big", "size", "", { process: "p1" });
    expect(Buffer.from(after).toString()).toBe(String(STATE_BYTES));
  } finally {
    // Room again, so the stop can swap the process out even after a failed assertion; one
    // left running anyway would outlive the test.
    if (disk) rmSync(path.join(disk.root, "filler"), { force: true });
    if (plane) await plane.stop();
    for (const pid of disk ? runProcessesMatching(disk.root) : []) process.kill(pid, "SIGKILL");
    await disk?.unmount();
    await temp.remove();
  }
}, 120_000);
