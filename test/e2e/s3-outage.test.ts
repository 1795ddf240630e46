// The S3 server holding swapped state goes away and comes back. A swap during the outage fails
// with STORAGE_ERROR and leaves the process active and serving (it used to stay `swapping`,
// refusing every call, until the store answered again); a resume fails the same way and leaves
// the process swapped; a delete stops the process but cannot remove its stored state, and is
// finished by a second delete or by a create of the same name (which starts from nothing).
// Once the server is back, all of them go through with every update.
// Real `praas up` (file store, local backend) and a real S3 server on loopback.
import S3rver from "../helpers/s3-server.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PraaS } from "../../src/sdk/index.js";
import { makeTempDir } from "../helpers/process-harness.js";
import { failure, startPraaS, type RunningPraaS } from "../helpers/praas-up.js";

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString("utf8");

let temp: Awaited<ReturnType<typeof makeTempDir>>;
let s3: S3rver | undefined;
let s3Port = 0;
let praas: RunningPraaS | undefined;
let client: PraaS | undefined;

/** The S3 server on `s3Port` (any free port the first time), over the same directory. */
async function startS3(): Promise<void> {
  s3 = new S3rver({
    address: "127.0.0.1",
    port: s3Port,
    silent: true,
    directory: `${temp.dir}/s3`,
  });
  s3Port = (await s3.run()).port;
}

async function stopS3(): Promise<void> {
  await s3?.close();
  s3 = undefined;
}

beforeAll(async () => {
  temp = await makeTempDir("e2e-s3-outage");
  await startS3();
  praas = await startPraaS({
    dataDir: `${temp.dir}/data`,
    s3: { endpoint: `http://127.0.0.1:${s3Port}`, bucket: "praas-outage" },
  });
  client = new PraaS(praas.url);
});

afterAll(async () => {
  for (const name of ["p1", "p2", "p3", "p4"])
    await client?.deleteProcess("counter", name).catch(() => {});
  await client?.close();
  await praas?.stop();
  await stopS3();
  await temp?.remove();
});

const add = async (name: string, n: number): Promise<string> =>
  text(await client!.invoke("counter", "add", String(n), { process: name }));

describe("the S3 blob store goes away and comes back", () => {
  it("fails swap and resume with STORAGE_ERROR, keeps serving, and loses nothing", async () => {
    await client!.deploy("counter", "examples/counter");
    await client!.createProcess("counter", "p1", { memory: 128 });
    await client!.createProcess("counter", "p2", { memory: 128 });
    expect(await add("p1", 5)).toBe("5");
    expect(await add("p2", 7)).toBe("7");
    await client!.swap("counter", "p2");
    await stopS3();

    expect((await failure(client!.swap("counter", "p1"))).code).toBe("STORAGE_ERROR");
    expect((await client!.getProcess("counter", "p1")).status).toBe("active");
    expect(await add("p1", 1)).toBe("6");

    expect((await failure(client!.resume("counter", "p2"))).code).toBe("STORAGE_ERROR");
    expect((await client!.getProcess("counter", "p2")).status).toBe("swapped");

    await startS3();
    await client!.swap("counter", "p1");
    expect(await add("p1", 1)).toBe("7"); // resumed on use, from what the swap stored
    expect(await add("p2", 1)).toBe("8");
  }, 60_000);

  it("finishes a delete the outage interrupted on the next delete or create of the name", async () => {
    for (const name of ["p3", "p4"]) {
      await client!.createProcess("counter", name, { memory: 128 });
      expect(await add(name, 3)).toBe("3");
      await client!.swap("counter", name);
    }
    await stopS3();
    for (const name of ["p3", "p4"]) {
      const deleted = await failure(client!.deleteProcess("counter", name));
      expect(deleted.code).toBe("STORAGE_ERROR");
      expect(deleted.message).toContain(
        `process counter/${name} is deleted, but its delete could not finish`,
      );
    }
    const { active, swapped, failed } = await client!.listProcesses("counter");
    const listed = [...active, ...swapped, ...failed].map((p) => p.name);
    expect(listed).not.toContain("p3");
    expect(listed).not.toContain("p4");

    await startS3();
    await client!.deleteProcess("counter", "p3");
    expect((await failure(client!.getProcess("counter", "p3"))).code).toBe("PROCESS_NOT_FOUND");
    await client!.createProcess("counter", "p4", { memory: 128 });
    expect(await add("p4", 1)).toBe("1"); // a new process: nothing of the deleted one's state
  }, 60_000);
});
