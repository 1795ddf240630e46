// Through the control plane: a swapped snapshot damaged on disk (bit rot) is refused at resume
// with STORAGE_ERROR, never handed back as state. The process stays swapped, the blob is left
// as it is, and once the blob is repaired the process resumes with every value.
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ControlPlane } from "../../src/control-plane/control-plane.js";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir, rejection, text } from "../helpers/process-harness.js";

let temp: Awaited<ReturnType<typeof makeTempDir>> | undefined;
let plane: ControlPlane | undefined;
let client: PraaS | undefined;

beforeAll(async () => {
  temp = await makeTempDir("cp-corrupt-snapshot");
  plane = await ControlPlane.start({ port: 0, dataDir: temp.dir, logLevel: "error" });
  client = new PraaS(plane.url);
  await client.deploy("suite", "test/fixtures/apps/runtime-suite");
});

afterAll(async () => {
  await client?.close();
  await plane?.stop();
  await temp?.remove();
});

const json = (value: object): string => JSON.stringify(value);
const parse = (value: string): unknown => JSON.parse(value) as unknown;
// Large enough that the middle of the blob is inside this value, not in a length or a key.
const VALUE = "a value that must come back exactly as it was put. ".repeat(2000);

describe("resume of a swapped process whose snapshot was damaged on disk", () => {
  it("fails with STORAGE_ERROR naming the key, stays swapped, and resumes once repaired", async () => {
    const praas = client!;
    const proc = await praas.createProcess("suite", "rot", { vcpus: 1, memory: 256 });
    const conn = await proc.connect();
    await conn.invoke("add", "5");
    await conn.invoke("stateOps", json({ op: "put", key: "text", value: VALUE }));
    await conn.close();
    expect((await praas.swap("suite", "rot")).status).toBe("swapped");

    const file = path.join(temp!.dir, "blobs", "swaps", "suite", "rot");
    const stored = await readFile(file);
    const damaged = Buffer.from(stored);
    const middle = Math.floor(damaged.length / 2);
    for (let i = middle; i < middle + 3; i++) damaged[i] = damaged[i]! ^ 0xff;
    await writeFile(file, damaged);

    const failures = [
      await rejection(praas.resume("suite", "rot")),
      await rejection(praas.invoke("suite", "add", "0", { process: "rot" })),
    ];
    for (const failed of failures) {
      expect(failed.code).toBe("STORAGE_ERROR");
      expect(failed.message).toContain("corrupt snapshot: checksum mismatch (swaps/suite/rot)");
    }
    expect((await praas.getProcess("suite", "rot")).status).toBe("swapped");
    expect((await readFile(file)).equals(damaged)).toBe(true); // left for whoever repairs it

    await writeFile(file, stored);
    const again = await (await praas.resume("suite", "rot")).connect();
    expect(text(await again.invoke("add", "0"))).toBe("5");
    const got = parse(text(await again.invoke("stateOps", json({ op: "get", key: "text" }))));
    expect(got).toEqual({ value: VALUE, size: VALUE.length });
    await again.close();
  });
});
