// The worker's watch over the built-ins its own code relies on (worker/intrinsics.ts): a change
// is named, putting them back restores them, and what existed before the watch began is the
// baseline. Runs in the test's own realm, restoring what it changes.
import { afterEach, describe, expect, it } from "vitest";
import { Intrinsics } from "../../src/runtime/worker/intrinsics.js";

const originalFrom = Object.getOwnPropertyDescriptor(Buffer, "from")?.value as typeof Buffer.from;
const originalParse = Object.getOwnPropertyDescriptor(JSON, "parse");
afterEach(() => {
  Buffer.from = originalFrom;
  if (originalParse) Object.defineProperty(JSON, "parse", originalParse);
  Reflect.deleteProperty(Object.prototype, "then");
});

describe("the watch over the worker's built-ins", () => {
  it("names nothing while nothing changed, and a replaced one once it is", () => {
    const watch = new Intrinsics();
    expect(watch.changed()).toBeUndefined();
    Buffer.from = () => Buffer.alloc(0);
    expect(watch.changed()).toBe("Buffer.from");
    expect(watch.restore()).toBe(true);
    expect(Object.getOwnPropertyDescriptor(Buffer, "from")?.value).toBe(originalFrom);
    expect(watch.changed()).toBeUndefined();
  });

  it("counts a throwing getter and a thenable Object.prototype as changes, and undoes both", () => {
    const watch = new Intrinsics();
    Object.defineProperty(JSON, "parse", {
      configurable: true,
      get: () => {
        throw new Error("no parsing");
      },
    });
    expect(watch.changed()).toBe("JSON.parse");
    expect(watch.restore()).toBe(true);
    (Object.prototype as Record<string, unknown>).then = () => undefined;
    expect(watch.changed()).toBe("Object.prototype.then");
    expect(watch.restore()).toBe(true);
    expect("then" in {}).toBe(false);
  });

  it("takes what was there when it began as the baseline", () => {
    Buffer.from = ((value: string) => originalFrom(value)) as typeof Buffer.from;
    const watch = new Intrinsics();
    expect(watch.changed()).toBeUndefined();
  });
});
