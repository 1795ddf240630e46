// The HTTP envelope that carries requests to `fetch` handlers and their responses back:
// round trips byte-exactly, and anything malformed is a BAD_REQUEST, never a crash.
import { describe, expect, it } from "vitest";
import {
  PraaSError,
  decodeHttpRequest,
  decodeHttpResponse,
  encodeHttpRequest,
  encodeHttpResponse,
  encodeFields,
  exportedName,
  HTTP_HANDLER_CALL,
} from "../../src/protocol/index.js";

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
  } catch (error) {
    return error instanceof PraaSError ? error.code : "not a PraaSError";
  }
  return undefined;
}

describe("HTTP envelopes", () => {
  it("round-trip requests and responses, bodies byte for byte", () => {
    const body = Uint8Array.from([0, 255, 10, 13]);
    const request = {
      method: "PATCH",
      path: "/a/b?c=d",
      headers: [
        ["x-a", "1"],
        ["x-a", "2"],
      ] as [string, string][],
      body,
    };
    const decoded = decodeHttpRequest(encodeHttpRequest(request));
    expect({ ...decoded, body: [...decoded.body] }).toEqual({ ...request, body: [...body] });
    const response = { status: 418, headers: [["set-cookie", "a=1"]] as [string, string][], body };
    const back = decodeHttpResponse(encodeHttpResponse(response));
    expect({ ...back, body: [...back.body] }).toEqual({ ...response, body: [...body] });
  });

  it("refuse malformed envelopes with BAD_REQUEST", () => {
    const headOnly = (fields: string[]): Buffer => {
      const head = encodeFields(fields);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(head.length);
      return Buffer.concat([length, head]);
    };
    expect(codeOf(() => decodeHttpRequest(new Uint8Array(0)))).toBe("BAD_REQUEST");
    expect(codeOf(() => decodeHttpRequest(Buffer.from([255, 255, 255, 255, 1])))).toBe(
      "BAD_REQUEST",
    );
    expect(codeOf(() => decodeHttpRequest(headOnly(["GET", "/"])))).toBe("BAD_REQUEST");
    expect(codeOf(() => decodeHttpRequest(headOnly(["GET", "/", "{}"])))).toBe("BAD_REQUEST");
    expect(codeOf(() => decodeHttpRequest(headOnly(["GET", "/", '[["a",1]]'])))).toBe(
      "BAD_REQUEST",
    );
    expect(codeOf(() => decodeHttpResponse(headOnly(["99", "[]"])))).toBe("BAD_REQUEST");
    expect(codeOf(() => decodeHttpResponse(headOnly(["200", "[]"])))).toBeUndefined();
  });

  it("name the exported fetch for the reserved call name only", () => {
    expect(exportedName(HTTP_HANDLER_CALL)).toBe("fetch");
    expect(exportedName("fetch")).toBe("fetch");
    expect(exportedName("add")).toBe("add");
  });
});
