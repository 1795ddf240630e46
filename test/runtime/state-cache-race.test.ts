// The worker's state cache is never left stale by a delete that raced another worker's put.
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FrameType, decodeFields, encodeFields, type Frame } from "../../src/protocol/index.js";
import { createContext } from "../../src/runtime/worker/context.js";
import { StorageBudget } from "../../src/runtime/worker/storage-budget.js";
import { StateCache } from "../../src/runtime/worker/state-cache.js";
import { FrameLink } from "../../src/transport/index.js";

const links: FrameLink[] = [];
let server: net.Server | undefined;

afterEach(async () => {
  for (const link of links.splice(0)) link.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Two ends of a loopback TCP connection, as the worker's fd-3 socketpair would be. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const accepted = new Promise<net.Socket>((resolve) => {
    server = net.createServer(resolve);
  });
  await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
  const { port } = server!.address() as net.AddressInfo;
  const dialled = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve) => dialled.once("connect", () => resolve()));
  return [dialled, await accepted];
}

/**
 * A worker end (context + cache, handling StateChanged as worker/main.ts does) and a process end
 * whose answers are given by `answer`.
 */
async function workerAndProcess(answer: (frame: Frame, link: FrameLink) => void) {
  const [workerSocket, processSocket] = await socketPair();
  const cache = new StateCache(1 << 20, 1 << 20);
  const worker = new FrameLink(workerSocket, {
    maxPayloadBytes: 1 << 20,
    onRequest: (frame) => {
      if (frame.type === FrameType.StateChanged) cache.forget(decodeFields(frame.meta)[0] ?? "");
    },
  });
  const proc = new FrameLink(processSocket, { maxPayloadBytes: 1 << 20, onRequest: answer });
  links.push(worker, proc);
  const info = { invocationId: "i", processId: "p", application: "a", functionName: "f" };
  return {
    cache,
    ctx: createContext(worker, info, cache, new StorageBudget(Number.POSITIVE_INFINITY, 1 << 20)),
  };
}

describe("worker state cache", () => {
  it("does not cache a delete as absent when another worker's put was announced before the reply", async () => {
    const { cache, ctx } = await workerAndProcess((frame, link) => {
      if (frame.type === FrameType.StateDelete) {
        // Another worker put the key right after our delete: its notice comes first.
        link.send(FrameType.StateChanged, 0, encodeFields(["k"]));
        link.reply(frame.id, undefined, ["deleted"]);
      } else if (frame.type === FrameType.StateGet) {
        link.reply(frame.id, Buffer.from("from the other worker"));
      }
    });
    await ctx.state.put("k", "mine");
    expect(await ctx.state.delete("k")).toBe(true);
    expect(cache.lookup("k")).toBeUndefined();
    const value = await ctx.state.get("k");
    expect(Buffer.from(value ?? new Uint8Array()).toString()).toBe("from the other worker");
  });

  it("caches a delete as absent when nothing raced it", async () => {
    const { cache, ctx } = await workerAndProcess((frame, link) => {
      if (frame.type === FrameType.StateDelete) link.reply(frame.id, undefined, ["deleted"]);
    });
    await ctx.state.put("k", "mine");
    expect(await ctx.state.delete("k")).toBe(true);
    expect(cache.lookup("k")).toBeNull();
    expect(await ctx.state.get("k")).toBeUndefined();
  });

  it("ignores a read that was in flight when a local delete started", async () => {
    let answerRead: (() => void) | undefined;
    const { cache, ctx } = await workerAndProcess((frame, link) => {
      if (frame.type === FrameType.StateGet)
        answerRead = () => link.reply(frame.id, Buffer.from("old"));
      if (frame.type === FrameType.StateDelete) {
        answerRead?.();
        link.reply(frame.id, undefined, ["deleted"]);
      }
    });
    const read = ctx.state.get("k");
    await new Promise<void>((resolve) => {
      const check = (): void => (answerRead ? resolve() : void setImmediate(check));
      check();
    });
    await ctx.state.delete("k");
    await read;
    expect(cache.lookup("k")).toBeNull();
  });
});
