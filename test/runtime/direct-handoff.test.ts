// A client connection is handed to a worker, which answers it itself: a direct call crosses two
// sockets (client → worker → client), not four through the process.
import { describe, expect, it } from "vitest";
import { text, useSuiteProcess } from "../helpers/process-harness.js";

const suite = useSuiteProcess({ name: "h1", workers: 1 });

/** `promise`, or a rejection once `ms` passed without it settling. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

describe("direct connections", () => {
  it("answers direct calls from the worker while the process itself is stopped", async () => {
    expect(text(await suite.conn.invoke("echo", "before"))).toBe("before");
    const pid = suite.proc.child.pid as number;
    process.kill(pid, "SIGSTOP");
    try {
      // The process cannot read or write anything now; only the worker can answer.
      expect(text(await within(suite.conn.invoke("echo", "worker"), 10_000))).toBe("worker");
    } finally {
      process.kill(pid, "SIGCONT");
    }
    expect(text(await suite.conn.invoke("echo", "after"))).toBe("after");
  });
});
