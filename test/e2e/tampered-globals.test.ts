// A function that changes the worker's built-ins (Object.prototype.then, Buffer.from,
// JSON.stringify) must not corrupt or break the calls after it: the worker asks to be replaced,
// stops gracefully (its clients are told to go elsewhere, a call it refused on its way out is
// sent again by the SDK), and the next calls run on a fresh worker. Before, every later call on
// that worker returned garbage or failed until the worker died.
import { describe, expect, it } from "vitest";
import type { PraaS } from "../../src/sdk/index.js";
import { type ProcessConnection } from "../../src/sdk/index.js";
import { useDeployedPlane } from "../helpers/deployed-plane.js";
import { text } from "../helpers/process-harness.js";

const deployed = useDeployedPlane("tampered-globals", "tamper", "test/fixtures/apps/tamper");
const praas = (): PraaS => deployed.client();

/** Calls echo from `loops` loops until `stop` says so; every answer must be right. */
async function echoLoops(conn: ProcessConnection, loops: number, stop: () => boolean) {
  const wrong: string[] = [];
  let answered = 0;
  const loop = async (n: number): Promise<void> => {
    while (!stop()) {
      const out = await conn.invoke("echo", `hi ${n}`).then(text, (error: Error) => error.message);
      if (out === `hi ${n}`) answered++;
      else wrong.push(out);
    }
  };
  await Promise.all(Array.from({ length: loops }, (_, n) => loop(n)));
  return { wrong, answered };
}

describe("a function that changes the worker's built-ins", () => {
  it.each(["thenable", "buffers", "json"])(
    "%s: the worker is replaced and every call after it is answered right",
    async (fn) => {
      const name = `t-${fn}`;
      const conn = await (await praas().createProcess("tamper", name)).connect();
      const before = text(await conn.invoke("pid"));
      let done = false;
      const others = echoLoops(conn, 4, () => done);
      // Its own answer may already be spoiled by what it changed: only the calls after it count.
      await conn.invoke(fn).catch(() => undefined);
      await expect
        .poll(async () => text(await conn.invoke("pid")), { timeout: 10_000 })
        .not.toBe(before);
      done = true;
      const { wrong, answered } = await others;
      expect(wrong).toEqual([]);
      expect(answered).toBeGreaterThan(0);
      expect(JSON.parse(text(await conn.invoke("object", "x")))).toEqual({ got: "x" });
      const viaPlane = await praas().invoke("tamper", "object", "y", { process: name });
      expect(JSON.parse(text(viaPlane))).toEqual({ got: "y" });
      await conn.close();
    },
    30_000,
  );

  it("a global the function only adds keeps its worker", async () => {
    const conn = await (await praas().createProcess("tamper", "t-harmless")).connect();
    const before = text(await conn.invoke("pid"));
    expect(text(await conn.invoke("harmless"))).toBe("fine");
    expect(text(await conn.invoke("pid"))).toBe(before);
    await conn.close();
  });
});
