import { describe, expect, it } from "vitest";
import { userErrorRecord, userStack } from "../../src/runtime/worker/user-stack.js";

const WORKER = "file:///opt/praas/dist/runtime/worker-bundle.js";
const STACK = [
  "TypeError: kaboom",
  "    at explode (file:///tmp/sandbox/bundle.mjs:3:9)",
  "    at boom (file:///tmp/sandbox/bundle.mjs:7:3)",
  `    at #call (${WORKER}:2622:55)`,
  `    at ${WORKER}:2637:55`,
  "    at AsyncLocalStorage.run (node:async_hooks:346:14)",
  `    at runAs (${WORKER}:2143:18)`,
  "    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)",
].join("\n");

describe("a failed function's stack", () => {
  it("keeps the function's frames and drops the worker's, from its first frame down", () => {
    expect(userStack(STACK, WORKER)).toBe(STACK.split("\n").slice(0, 3).join("\n"));
  });

  it("keeps the worker's frames above the function's (a ctx API it called)", () => {
    const lines = STACK.split("\n");
    const called = [lines[0]!, `    at put (${WORKER}:900:11)`, ...lines.slice(1)].join("\n");
    expect(userStack(called, WORKER)).toBe(called.split("\n").slice(0, 4).join("\n"));
  });

  it("is left whole when no frame is the function's", () => {
    const platform = [STACK.split("\n")[0]!, ...STACK.split("\n").slice(3)].join("\n");
    expect(userStack(platform, WORKER)).toBe(platform);
  });

  it("is left whole when no frame is the worker's", () => {
    const own = STACK.split("\n").slice(0, 3).join("\n");
    expect(userStack(own, WORKER)).toBe(own);
  });

  it("keeps an error record's code, name and message (only the stack is cut)", () => {
    const record = userErrorRecord(new RangeError("out of range"));
    expect(record).toMatchObject({
      code: "FUNCTION_ERROR",
      errorName: "RangeError",
      message: "out of range",
    });
    expect(record.stack).toMatch(/^RangeError: out of range\n/);
    expect(userErrorRecord("a string").stack).toBeUndefined();
  });
});
