/**
 * The bare-Node baseline servers die with the bench: one that exits mid-sample (Ctrl-C while a
 * baseline server runs) leaves no server behind.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const BASELINE = path.resolve("dist/bench/baselines/cold-node.js");

// Starts a sample and, without letting it go on (its event loop blocked, so the sample cannot
// end first), waits until the sample's server listens; then exits and prints the server's pid.
const EXITS_MID_SAMPLE = `
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
const { idleNodeFootprint } = await import(${JSON.stringify(BASELINE)});
void idleNodeFootprint();
const server = readFileSync("/proc/self/task/" + process.pid + "/children", "utf8").trim();
const listening = () =>
  execFileSync("ss", ["-ltnpH"], { encoding: "utf8" }).includes("pid=" + server + ",");
const deadline = Date.now() + 10000;
while (!listening()) if (Date.now() > deadline) process.exit(2);
process.stdout.write(server);
process.exit(0);
`;

async function gone(pid: number): Promise<boolean> {
  const deadline = Date.now() + 5000;
  while (existsSync(`/proc/${pid}`)) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

describe.runIf(process.platform === "linux")("bare-Node baseline servers", () => {
  it("are killed when the bench exits while one runs", async () => {
    // Its stderr, which the server inherits, is not ours: a server left behind must not hold
    // this test up, only fail it.
    const script = spawn(process.execPath, ["--input-type=module", "-e", EXITS_MID_SAMPLE], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let stdout = "";
    script.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    const [code] = (await once(script, "exit")) as [number | null];
    expect(code).toBe(0);
    expect(await gone(Number(stdout))).toBe(true);
  });
});
