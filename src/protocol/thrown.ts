/**
 * Text for a thrown value that is not an Error (`throw { code: 42 }`, `Promise.reject([1, 2])`):
 * String() of an object says only "[object Object]", so objects and arrays are shown as their
 * JSON; strings, numbers, undefined and null as String() shows them. A value JSON cannot show
 * (a cycle, a BigInt inside, a throwing getter) falls back to String().
 */

/** The longest description of a thrown value: it travels in every error reply and log line. */
export const THROWN_VALUE_CHARS = 1024;

export function describeThrown(value: unknown): string {
  const json = typeof value === "object" && value !== null ? boundedJson(value) : undefined;
  return cut(json ?? safeString(value));
}

function cut(text: string): string {
  return text.length <= THROWN_VALUE_CHARS ? text : `${text.slice(0, THROWN_VALUE_CHARS)}…`;
}

/** String() throws for objects without a prototype, with a throwing toString, or revoked proxies. */
function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return `a thrown ${typeof value} that cannot be shown`;
  }
}

/**
 * JSON.stringify's text for `value`, written only until it passes the cut, so that a huge
 * thrown value costs about its first kilobyte; undefined when JSON cannot show it.
 */
function boundedJson(value: object): string | undefined {
  try {
    const item = prepared(value, "");
    if (omitted(item)) return undefined;
    const writer = new JsonWriter();
    return writer.item(item) ? writer.text() : undefined;
  } catch {
    // A getter, toJSON or proxy trap of the user's threw.
    return undefined;
  }
}

/** What JSON.stringify writes for a member: the result of its toJSON, if it has one. */
function prepared(value: unknown, key: string): unknown {
  const toJSON = (value as { toJSON?: unknown } | null | undefined)?.toJSON;
  return typeof toJSON === "function"
    ? (toJSON as (key: string) => unknown).call(value, key)
    : value;
}

/** Values JSON leaves out of objects and writes as null in arrays. */
function omitted(value: unknown): boolean {
  return value === undefined || typeof value === "function" || typeof value === "symbol";
}

/** Writes JSON as JSON.stringify does, and stops once it holds more than the cut. */
class JsonWriter {
  readonly #parts: string[] = [];
  readonly #open = new Set<object>();
  #length = 0;

  text(): string {
    return this.#parts.join("");
  }

  /** Writes a value that is not omitted; false when JSON cannot show it. */
  item(value: unknown): boolean {
    if (typeof value === "bigint") return false; // JSON.stringify throws on BigInt
    if (typeof value !== "object" || value === null) {
      this.#write(JSON.stringify(value));
      return true;
    }
    if (this.#open.has(value)) return false; // a cycle
    this.#open.add(value);
    const shown = Array.isArray(value) ? this.#array(value) : this.#object(value);
    this.#open.delete(value);
    return shown;
  }

  get #full(): boolean {
    return this.#length > THROWN_VALUE_CHARS;
  }

  #write(text: string): void {
    this.#parts.push(text);
    this.#length += text.length;
  }

  #array(items: readonly unknown[]): boolean {
    this.#write("[");
    for (let i = 0; i < items.length && !this.#full; i++) {
      if (i > 0) this.#write(",");
      const item = prepared(items[i], String(i));
      if (omitted(item)) this.#write("null");
      else if (!this.item(item)) return false;
    }
    this.#write("]");
    return true;
  }

  #object(object: object): boolean {
    this.#write("{");
    let first = true;
    for (const key of Object.keys(object)) {
      if (this.#full) break;
      const item = prepared((object as Record<string, unknown>)[key], key);
      if (omitted(item)) continue;
      this.#write(`${first ? "" : ","}${JSON.stringify(key)}:`);
      first = false;
      if (!this.item(item)) return false;
    }
    this.#write("}");
    return true;
  }
}
