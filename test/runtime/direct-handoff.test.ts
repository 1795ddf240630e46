// A client connection is handed to a worker, which answers it itself: a direct call crosses two
// sockets (client → worker → client), not four through the process.
import { describe, expect, it } from "vitest";
import { FrameType, encodeFields } from "../../src/protocol/index.js";
import { connectFrameLink } from "../../src/transport/index.js";
import { text, useSuiteProcess } from "../helpers/process-harness.js";
import { children } from "../helpers/process-tree.js";
import { whileStopped, within } from "../helpers/stopped-process.js";

const single = useSuiteProcess({ name: "h1", workers: 1 });
const pair = useSuiteProcess({ name: "h2", workers: 2 });

describe("direct connections", () => {
  it("answers direct calls from the worker while the process itself is stopped", async () => {
    expect(text(await single.conn.invoke("echo", "before"))).toBe("before");
    const pid = single.proc.child.pid as number;
    // The process cannot read or write anything now; only the worker can answer.
    const answer = await whileStopped(pid, () =>
      within(single.conn.invoke("echo", "worker"), 10_000),
    );
    expect(text(answer)).toBe("worker");
    expect(text(await single.conn.invoke("echo", "after"))).toBe("after");
  });

  it("says how many workers serve it; a connection's calls spread over one link per worker", async () => {
    const both = (): Promise<string[]> =>
      Promise.all([0, 1].map(async () => text(await pair.conn.invoke("sleepPid", "300"))));
    expect(new Set(await both()).size).toBe(2); // the second link is dialled here
    const pid = pair.proc.child.pid as number;
    const pids = await whileStopped(pid, () => within(both(), 10_000));
    expect(new Set(pids).size).toBe(2);
    const { link, welcome } = await connectFrameLink({
      host: pair.proc.host,
      port: pair.proc.port,
      token: pair.proc.token,
    });
    link.destroy();
    expect(welcome.workers).toBe(2);
  });

  it("welcomes a client while its worker is stopped; the first call waits for the worker", async () => {
    const [worker] = children(single.proc.child.pid as number);
    const { host, port, token } = single.proc;
    // The process answers HELLO itself as it hands the socket over: connecting does not wait
    // for the worker, and the call sent at once is read by the worker when it can.
    const opened = await whileStopped(worker as number, async () => {
      const { link } = await within(connectFrameLink({ host, port, token }), 5000);
      const call = link.request(FrameType.Invoke, encodeFields(["echo"]), Buffer.from("queued"));
      return { link, call };
    });
    expect(text((await within(opened.call, 10_000)).payload)).toBe("queued");
    opened.link.destroy();
  });
});
