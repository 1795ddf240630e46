/**
 * The content type of a function's output. The output is bytes; a function that returned an
 * object or an array (which the worker serialised as JSON) is served as `application/json`, so
 * browsers and HTTP clients parse it. Anything else stays `application/octet-stream`.
 */

/** Larger outputs are not parsed just to pick a header. */
const MAX_SNIFFED_BYTES = 1024 * 1024;

const OPENERS = new Map([
  [0x7b, 0x7d], // { }
  [0x5b, 0x5d], // [ ]
]);

function looksLikeJsonContainer(output: Uint8Array): boolean {
  const first = output[0];
  const last = output[output.length - 1];
  return first !== undefined && last !== undefined && OPENERS.get(first) === last;
}

function parses(output: Uint8Array): boolean {
  try {
    JSON.parse(Buffer.from(output.buffer, output.byteOffset, output.byteLength).toString("utf8"));
    return true;
  } catch {
    return false;
  }
}

export function resultContentType(output: Uint8Array): string {
  const json =
    output.byteLength <= MAX_SNIFFED_BYTES && looksLikeJsonContainer(output) && parses(output);
  return json ? "application/json; charset=utf-8" : "application/octet-stream";
}
