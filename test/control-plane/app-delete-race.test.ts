// `apps rm --force` while clients keep creating the app's processes (get-or-create): the delete
// finishes, and leaves no process of the app behind, in the store or running.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { PraaSError } from "../../src/protocol/index.js";
import { useDeployedPlane } from "../helpers/deployed-plane.js";

const plane = useDeployedPlane("app-delete-race");
const APP = "busy";

async function appDir(): Promise<string> {
  const dir = path.join(plane.dir(), "busy");
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, "index.js"), `export function hi() { return "hi"; }\n`);
  return dir;
}

/**
 * Creates process after process of APP by calling it (get-or-create) until a create is refused
 * because the application is gone; every other failure is kept in `failures`.
 */
async function creator(lane: number, made: string[], failures: PraaSError[]): Promise<void> {
  const praas = plane.client();
  for (let k = 0; k < 1000; k++) {
    const name = `g${lane}-${k}`;
    try {
      await praas.invoke(APP, "hi", "", { process: name, create: true });
      made.push(name);
    } catch (error) {
      if ((error as PraaSError).code === "APP_NOT_FOUND") return;
      failures.push(error as PraaSError);
    }
  }
  throw new Error(`lane ${lane} never saw the application go`);
}

describe("deleting an application whose processes are being created", () => {
  it("finishes, refuses the creates after it, and leaves no process behind", async () => {
    const praas = plane.client();
    await praas.deploy(APP, await appDir());
    const made: string[] = [];
    const failures: PraaSError[] = [];
    const lanes = [0, 1, 2, 3].map((lane) => creator(lane, made, failures));
    const deadline = Date.now() + 60_000;
    while (made.length < 6 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    expect(made.length).toBeGreaterThanOrEqual(6);

    await praas.deleteApplication(APP, { force: true });
    await Promise.all(lanes);
    // A call whose process the delete took between its create and its run says so.
    for (const failure of failures)
      expect(failure.code).toMatch(/^(INVALID_STATE|PROCESS_NOT_FOUND)$/);

    // Deployed again, the application starts with no process: none was left in the store.
    await praas.deploy(APP, await appDir());
    expect(await praas.listProcesses(APP)).toEqual({ active: [], swapped: [], failed: [] });
    await praas.deleteApplication(APP, { force: true });
  }, 120_000);
});
