// Direct calls hammering a process while it swaps out: every call either ran (and answered) or
// was refused with an answer that says it never ran (UNAVAILABLE; PEER_UNAVAILABLE once the
// process is gone and a dial is refused), so a client may send it again. Before, a few calls
// per swap failed with WORKER_CRASHED or CONNECTION_CLOSED although they never ran: a worker
// stopped at the swap died with refusals it had written but not yet sent.
import { describe, expect, it } from "vitest";
import type { PraaS } from "../../src/sdk/index.js";
import { type ProcessConnection } from "../../src/sdk/index.js";
import { useDeployedPlane } from "../helpers/deployed-plane.js";
import { text } from "../helpers/process-harness.js";

const LOOPS = 8;
const SWAPS = 5;
/** Calls each loop makes after its swap answered, so calls also meet the stopping workers. */
const CALLS_AFTER = 40;
const NEVER_RAN = new Set(["UNAVAILABLE", "PEER_UNAVAILABLE"]);

const deployed = useDeployedPlane("direct-swap-storm", "counter", "examples/counter");
const praas = (): PraaS => deployed.client();

interface Tally {
  ran: number;
  wrong: string[];
}

/** Calls `add` until the swap answered and it made CALLS_AFTER more calls. */
async function callLoop(conn: ProcessConnection, swapped: () => boolean, tally: Tally) {
  let after = 0;
  while (after < CALLS_AFTER) {
    if (swapped()) after++;
    try {
      await conn.invoke("add", "1");
      tally.ran++;
    } catch (error) {
      const { code = "", message } = error as { code?: string; message: string };
      if (!NEVER_RAN.has(code)) tally.wrong.push(`${code}: ${message}`);
    }
  }
}

/** One round: connect, call from every loop, swap once the calls flow, wait for the loops. */
async function round(name: string, tally: Tally): Promise<void> {
  const conn = await (await praas().resume("counter", name)).connect();
  let swapped = false;
  const loops = Array.from({ length: LOOPS }, () => callLoop(conn, () => swapped, tally));
  const ranBefore = tally.ran;
  await expect
    .poll(() => tally.ran - ranBefore, { timeout: 10_000, interval: 1 })
    .toBeGreaterThan(50);
  await praas().swap("counter", name);
  swapped = true;
  await Promise.all(loops);
  await conn.close();
}

describe("direct calls while the process swaps out", () => {
  it("every call ran or was refused as never run", async () => {
    const name = "storm";
    await praas().createProcess("counter", name, { vcpus: 2, memory: 256 });
    await praas().swap("counter", name);
    const tally: Tally = { ran: 0, wrong: [] };
    for (let i = 0; i < SWAPS; i++) await round(name, tally);
    const count = Number(text(await praas().invoke("counter", "get", "", { process: name })));
    expect(tally.wrong).toEqual([]);
    expect(count).toBe(tally.ran);
  }, 120_000);
});
