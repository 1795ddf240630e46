/**
 * The soak's short mode, as `npm test` runs it: a real `praas up` with Redis under load and
 * every kind of fault, then the invariants read back from the JSON it wrote.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SoakResult } from "../../src/soak/result.js";

const SOAK = path.resolve("dist/soak/main.js");
const RUN_BOUND_MS = 120_000;

interface Finished {
  code: number | null;
  stderr: string;
}

function runShortSoak(outDir: string): Promise<Finished> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SOAK, "--short", "--out", outDir], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`the short soak did not finish in ${RUN_BOUND_MS} ms:\n${stderr}`));
    }, RUN_BOUND_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
}

describe("npm run soak -- --short", () => {
  let outDir: string;
  let finished: Finished;
  let result: SoakResult;

  beforeAll(async () => {
    outDir = await mkdtemp(path.join(tmpdir(), "praas-soak-results-"));
    finished = await runShortSoak(outDir);
    const json = (await readdir(outDir)).find((file) => file.endsWith(".json"));
    if (json === undefined) throw new Error(`no JSON result written:\n${finished.stderr}`);
    result = JSON.parse(await readFile(path.join(outDir, json), "utf8")) as SoakResult;
  }, RUN_BOUND_MS + 10_000);

  afterAll(async () => {
    await rm(outDir, { recursive: true, force: true });
  });

  it("passes, writes the JSON and the Markdown report", async () => {
    expect(finished.code, finished.stderr).toBe(0);
    expect(result.passed).toBe(true);
    const files = await readdir(outDir);
    expect(files).toContain(`${result.date}.md`);
    expect(files).toContain("latest.md");
  });

  it("injects every kind of fault (or says why it could not)", () => {
    for (const [kind, count] of Object.entries(result.faults)) {
      expect(count.injected + count.skipped, kind).toBeGreaterThan(0);
      if (count.injected === 0) expect(count.notes, kind).not.toEqual([]);
    }
  });

  it("loses no acknowledged write or message without excuse", () => {
    expect(result.verification.writes.acknowledged).toBeGreaterThan(0);
    expect(result.verification.writes.lostUnexcused).toBe(0);
    expect(result.verification.messages.acknowledged).toBeGreaterThan(0);
    expect(result.verification.messages.lostUnexcused).toBe(0);
  });

  it("leaves no OS process behind and keeps memory bounded", () => {
    expect(result.leaks.tracked).toBeGreaterThan(0);
    expect(result.leaks.leftover).toEqual([]);
    expect(result.peakRss.controlPlaneBytes).toBeGreaterThan(0);
    expect(result.controlPlaneCrashes).toEqual([]);
  });

  it("fuzzes both links and every other invariant holds", () => {
    expect(result.fuzz.framesByLink["data-plane"]).toBeGreaterThan(0);
    expect(result.fuzz.framesByLink["control-link"]).toBeGreaterThan(0);
    const failing = result.invariants.filter((check) => !check.ok);
    expect(failing).toEqual([]);
  });
});
