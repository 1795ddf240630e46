// Upgrades: one whose new code cannot start in the process (here: its top level needs more
// memory than the process has, which the deploy's load check, with its own limit, lets through)
// leaves the process serving on the version it ran, with its state, and fails with the start's
// error; one that finds the process resumed on the new version by someone else succeeds.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { rejection, text } from "../helpers/process-harness.js";
import { useDeployedPlane } from "../helpers/deployed-plane.js";

const plane = useDeployedPlane("upgrade");

/** An app directory: a counter whose `which` answers `answer`, after running `topLevel`. */
async function appDir(answer: string, topLevel = ""): Promise<string> {
  const dir = path.join(plane.dir(), `src-${answer}`);
  await mkdir(dir, { recursive: true });
  const code =
    `${topLevel}\nexport function which() { return ${JSON.stringify(answer)}; }\n` +
    'export async function add(input, ctx) { return String(await ctx.state.increment("n", 1)); }\n' +
    "export async function sleep(input, ctx) {\n" +
    '  await ctx.state.put("sleeping", "yes");\n' +
    "  await new Promise((done) => setTimeout(done, Number(new TextDecoder().decode(input))));\n" +
    '  return "slept";\n}\n';
  await writeFile(path.join(dir, "index.js"), code);
  return dir;
}

/** Until `done` answers true, asked every 10 ms, for at most 10 s. */
async function until(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error("waited 10 s in vain");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("upgrade to code that cannot start", { timeout: 120_000 }, () => {
  it("keeps the process serving on its version, with its state, and reports why", async () => {
    const praas = plane.client();
    await praas.deploy("heavy", await appDir("v1"));
    await praas.createProcess("heavy", "a", { vcpus: 1, memory: 128 });
    await praas.invoke("heavy", "add", "", { process: "a" });
    // About 250 MiB of heap at load: within the load check's 512 MiB, past a 128 MiB process.
    const big = 'globalThis.table = Array.from({ length: 3e6 }, (_, i) => ({ i, s: "x" + i }));';
    expect((await praas.deploy("heavy", await appDir("v2", big))).version).toBe(2);

    const error = await rejection(praas.upgrade("heavy", "a"));
    expect(error.message).toContain("memory");
    const after = await praas.getProcess("heavy", "a");
    expect(after.info.status).toBe("active");
    expect(after.info.version).toBe(1);
    expect(text(await praas.invoke("heavy", "which", "", { process: "a" }))).toBe("v1");
    expect(text(await praas.invoke("heavy", "add", "", { process: "a" }))).toBe("2");
    await praas.deleteApplication("heavy", { force: true });
  });
});

describe("upgrade racing a resume", { timeout: 120_000 }, () => {
  it("succeeds when something else resumed the process on the new version first", async () => {
    const praas = plane.client();
    await praas.deploy("busy", await appDir("busy"));
    await praas.createProcess("busy", "p", { vcpus: 1, memory: 128 });
    await praas.invoke("busy", "add", "", { process: "p" });
    const { version } = await praas.setSecret("busy", "ROUND", "1");
    // The upgrade's swap-out waits for this call, which leaves time to queue a resume after it.
    const inFlight = praas.invoke("busy", "sleep", "1500", { process: "p" });
    await until(async () => {
      const { keys } = await praas.processState("busy", "p");
      return keys.some((entry) => entry.key === "sleeping");
    });
    const upgrading = praas.upgrade("busy", "p");
    await until(async () => (await praas.getProcess("busy", "p")).info.status === "swapping");
    const resumed = praas.resume("busy", "p");
    expect(text(await inFlight)).toBe("slept");
    expect((await resumed).info).toMatchObject({ status: "active", version });
    expect((await upgrading).info).toMatchObject({ status: "active", version });
    expect(text(await praas.invoke("busy", "add", "", { process: "p" }))).toBe("2");
    await praas.deleteApplication("busy", { force: true });
  });
});
