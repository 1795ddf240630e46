/**
 * The built-ins a worker's own code (and every later call) relies on, as they were once the
 * bundle loaded. User code shares the worker's realm: a function that replaces `Buffer.from`,
 * `Promise` or `JSON.stringify`, or makes every object a thenable (`Object.prototype.then`),
 * would break or corrupt every later call on this worker, whoever made it. The worker checks
 * after each call and, if one changed, puts the built-ins back (to answer what it still runs)
 * and asks to be replaced. What the bundle's own top level sets up (a polyfill) is the
 * baseline, not a change.
 */

type Watched = readonly [name: string, holder: object, key: string];

const WATCHED: readonly Watched[] = [
  ["Promise", globalThis, "Promise"],
  ["Promise.resolve", Promise, "resolve"],
  ["Promise.all", Promise, "all"],
  ["Promise.prototype.then", Promise.prototype, "then"],
  ["Promise.prototype.catch", Promise.prototype, "catch"],
  ["Promise.prototype.finally", Promise.prototype, "finally"],
  ["Buffer", globalThis, "Buffer"],
  ["Buffer.from", Buffer, "from"],
  ["Buffer.alloc", Buffer, "alloc"],
  ["Buffer.allocUnsafe", Buffer, "allocUnsafe"],
  ["Buffer.concat", Buffer, "concat"],
  ["Buffer.byteLength", Buffer, "byteLength"],
  ["Buffer.isBuffer", Buffer, "isBuffer"],
  ["Buffer.prototype.toString", Buffer.prototype, "toString"],
  ["Buffer.prototype.write", Buffer.prototype, "write"],
  ["Uint8Array.prototype.subarray", Uint8Array.prototype, "subarray"],
  ["Uint8Array.prototype.set", Uint8Array.prototype, "set"],
  ["JSON", globalThis, "JSON"],
  ["JSON.stringify", JSON, "stringify"],
  ["JSON.parse", JSON, "parse"],
  ["Object", globalThis, "Object"],
  ["Object.keys", Object, "keys"],
  ["Object.entries", Object, "entries"],
  ["Object.assign", Object, "assign"],
  ["Object.freeze", Object, "freeze"],
  ["Object.defineProperty", Object, "defineProperty"],
  ["Array", globalThis, "Array"],
  ["Array.isArray", Array, "isArray"],
  ["Array.prototype.push", Array.prototype, "push"],
  ["Array.prototype.map", Array.prototype, "map"],
  ["Array.prototype.join", Array.prototype, "join"],
  ["Map.prototype.get", Map.prototype, "get"],
  ["Map.prototype.set", Map.prototype, "set"],
  ["Map.prototype.delete", Map.prototype, "delete"],
  ["Set.prototype.add", Set.prototype, "add"],
  ["Set.prototype.has", Set.prototype, "has"],
  ["Function.prototype.call", Function.prototype, "call"],
  ["Function.prototype.apply", Function.prototype, "apply"],
  ["Function.prototype.bind", Function.prototype, "bind"],
  ["String.prototype.split", String.prototype, "split"],
  ["Error", globalThis, "Error"],
  ["TextEncoder", globalThis, "TextEncoder"],
  ["TextDecoder", globalThis, "TextDecoder"],
  ["setTimeout", globalThis, "setTimeout"],
  ["clearTimeout", globalThis, "clearTimeout"],
  ["queueMicrotask", globalThis, "queueMicrotask"],
  ["process.nextTick", process, "nextTick"],
];

/** Objects our code resolves promises with: an own `then` makes each of them a thenable. */
const NO_THEN: readonly (readonly [name: string, prototype: object])[] = [
  ["Object.prototype.then", Object.prototype],
  ["Array.prototype.then", Array.prototype],
  ["Uint8Array.prototype.then", Uint8Array.prototype],
];

const hasOwn = Object.hasOwn;

/**
 * A check compiled for the list: one plain property read per built-in (a few ns each), where a
 * loop over holders and keys reads each through a slow generic lookup (about 45 ns: 2 µs a
 * call). Only our constant list goes into the source. Made with the Function constructor taken
 * before any user code loads.
 */
const FunctionConstructor = function () {}.constructor as FunctionConstructor;
const compiledCheck = new FunctionConstructor(
  "holders",
  "baseline",
  WATCHED.map(([, , key], i) => `if (holders[${i}].${key} !== baseline[${i}]) return ${i};`)
    .concat("return -1;")
    .join("\n"),
) as (holders: readonly object[], baseline: readonly unknown[]) => number;

const HOLDERS = WATCHED.map(([, holder]) => holder);

/** The baseline, taken when made: what changed since, and putting it back. */
export class Intrinsics {
  readonly #baseline = WATCHED.map(([, holder, key]) => read(holder, key));
  readonly #thenBefore = NO_THEN.map(([, prototype]) => hasOwn(prototype, "then"));

  /** The first built-in changed since, e.g. "Buffer.from"; cheap enough for every call. */
  changed(): string | undefined {
    const index = this.#compared();
    if (index >= 0) return WATCHED[index]?.[0];
    for (let i = 0; i < NO_THEN.length; i++) {
      const [name, prototype] = NO_THEN[i] as (typeof NO_THEN)[number];
      if (hasOwn(prototype, "then") !== this.#thenBefore[i]) return name;
    }
    return undefined;
  }

  /** The index of the first watched built-in changed, or -1; a getter that throws counts. */
  #compared(): number {
    try {
      return compiledCheck(HOLDERS, this.#baseline);
    } catch {
      return WATCHED.findIndex(([, holder, key], i) => read(holder, key) !== this.#baseline[i]);
    }
  }

  /**
   * Puts every built-in back, so the worker can answer what it runs while it is replaced;
   * false when one could not be (made read-only, say).
   */
  restore(): boolean {
    let restored = true;
    WATCHED.forEach(([, holder, key], i) => {
      restored = put(holder, key, this.#baseline[i]) && restored;
    });
    NO_THEN.forEach(([, prototype], i) => {
      if (!this.#thenBefore[i]) restored = Reflect.deleteProperty(prototype, "then") && restored;
    });
    return restored && this.changed() === undefined;
  }
}

function put(holder: object, key: string, value: unknown): boolean {
  if (read(holder, key) === value) return true;
  const descriptor = { value, writable: true, configurable: true, enumerable: false };
  return Reflect.defineProperty(holder, key, descriptor);
}

/** A getter put in place of a built-in may throw: that is a change too. */
function read(holder: object, key: string): unknown {
  try {
    return (holder as Record<string, unknown>)[key];
  } catch {
    return read;
  }
}
