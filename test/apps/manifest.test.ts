import { writeFile } from "node:fs/promises";
import { join } from "node:path";

import { afterAll, describe, expect, it } from "vitest";

import { findEntry, parseManifest, readManifest } from "../../src/apps/index.js";
import { NO_PERMISSIONS } from "../../src/protocol/index.js";
import { PraaSError } from "../../src/protocol/errors.js";
import { fixture, rejection, removeTempDirs, tempDir, writeApp } from "./helpers.js";

afterAll(removeTempDirs);

const EMPTY = { defaults: {}, env: {}, permissions: NO_PERMISSIONS, serialize: false };

function parseError(text: string): PraaSError {
  try {
    parseManifest(text);
  } catch (error) {
    if (error instanceof PraaSError) return error;
    throw error;
  }
  throw new Error(`expected ${text} to be rejected`);
}

describe("parseManifest", () => {
  it("accepts a full manifest", () => {
    const text = '{"name":"shop","main":"src/app.ts","defaults":{"vcpus":1.5,"memory":512}}';
    expect(parseManifest(text)).toEqual({
      name: "shop",
      main: "src/app.ts",
      defaults: { vcpus: 1.5, memory: 512 },
      env: {},
      permissions: NO_PERMISSIONS,
      serialize: false,
    });
  });

  it("fills in empty defaults, no environment and no permissions", () => {
    expect(parseManifest("{}")).toEqual(EMPTY);
    expect(parseManifest('{"defaults":{"memory":128}}')).toEqual({
      ...EMPTY,
      defaults: { memory: 128 },
    });
  });

  it("reads default process limits", () => {
    const text =
      '{"defaults":{"memory":128,"limits":{"maxConnections":10,"invocationTimeoutMs":500}}}';
    expect(parseManifest(text)).toEqual({
      ...EMPTY,
      defaults: { memory: 128, limits: { maxConnections: 10, invocationTimeoutMs: 500 } },
    });
  });

  it("reads the environment and the permissions", () => {
    const text = '{"env":{"GREETING":"hi","_X1":""},"permissions":{"childProcess":true}}';
    expect(parseManifest(text)).toEqual({
      ...EMPTY,
      env: { GREETING: "hi", _X1: "" },
      permissions: { ...NO_PERMISSIONS, childProcess: true },
    });
  });

  it("reads which functions run one invocation at a time", () => {
    expect(parseManifest('{"serialize":true}').serialize).toBe(true);
    expect(parseManifest('{"serialize":false}').serialize).toBe(false);
    expect(parseManifest('{"serialize":["add","add","get"]}').serialize).toEqual(["add", "get"]);
  });

  it.each([
    ["not JSON", "{name:", /invalid JSON/],
    ["a serialize string", '{"serialize":"add"}', /"serialize" must be true, false or a list/],
    ["a bad serialized name", '{"serialize":["a b"]}', /invalid "serialize" function name/],
    ["not an object", "[1]", /must be a JSON object/],
    ["a bad name", '{"name":"has space"}', /invalid application name/],
    ["a non-string main", '{"main":3}', /"main" must be a non-empty string/],
    ["an absolute main", '{"main":"/etc/passwd"}', /inside the application directory/],
    ["a main that climbs out", '{"main":"../x.js"}', /inside the application directory/],
    ["non-object defaults", '{"defaults":4}', /"defaults" must be an object/],
    ["zero vcpus", '{"defaults":{"vcpus":0}}', /"defaults.vcpus" must be a positive number/],
    [
      "fractional memory",
      '{"defaults":{"memory":1.5}}',
      /"defaults.memory" must be a positive int/,
    ],
    ["string memory", '{"defaults":{"memory":"1G"}}', /"defaults.memory"/],
    ["an unknown key", '{"nmae":"x"}', /unknown key "nmae"/],
    ["an unknown default", '{"defaults":{"memroy":1}}', /unknown key "memroy" in "defaults"/],
    ["non-object limits", '{"defaults":{"limits":[1]}}', /"defaults.limits" must be an object/],
    [
      "an unknown limit",
      '{"defaults":{"limits":{"maxConections":1}}}',
      /unknown key "maxConections" in "defaults.limits"/,
    ],
    [
      "a zero limit",
      '{"defaults":{"limits":{"maxInflight":0}}}',
      /maxInflight in "defaults.limits" must be an integer in \[1, /,
    ],
    [
      "a fractional limit",
      '{"defaults":{"limits":{"invocationTimeoutMs":1.5}}}',
      /invocationTimeoutMs in "defaults.limits" must be an integer/,
    ],
    [
      "a limit past its bound",
      '{"defaults":{"limits":{"maxConnections":1000001}}}',
      /maxConnections in "defaults.limits" must be an integer in \[1, 1000000\]/,
    ],
    ["a non-object env", '{"env":["A=1"]}', /"env" must be an object/],
    ["a lowercase env name", '{"env":{"path":"x"}}', /must match/],
    ["an env name with a dash", '{"env":{"A-B":"x"}}', /must match/],
    ["a PRAAS_ env name", '{"env":{"PRAAS_CONTROL_SECRET":"x"}}', /reserved for the platform/],
    ["TMPDIR in env", '{"env":{"TMPDIR":"/"}}', /reserved for the platform/],
    ["a non-string env value", '{"env":{"N":1}}', /"env.N" must be a string/],
    ["a NUL in an env value", '{"env":{"N":"a\\u0000b"}}', /without NUL/],
    ["a huge env value", `{"env":{"BIG":"${"x".repeat(32_769)}"}}`, /longer than 32768 bytes/],
    ["an unknown permission", '{"permissions":{"root":true}}', /unknown key "root"/],
    ["a non-boolean permission", '{"permissions":{"network":"yes"}}', /must be true or false/],
  ])("rejects %s as BAD_REQUEST", (_what, text, message) => {
    const error = parseError(text);
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/^praas\.json: /);
    expect(error.message).toMatch(message);
  });
});

describe("readManifest", () => {
  it("treats a missing praas.json as an empty manifest", async () => {
    expect(await readManifest(fixture("echo-js"))).toEqual(EMPTY);
  });

  it("reads a fixture's manifest", async () => {
    expect(await readManifest(fixture("ts-app"))).toEqual({
      ...EMPTY,
      name: "ts-app",
      defaults: { vcpus: 0.5, memory: 256 },
    });
  });

  it("rejects a malformed file", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "praas.json"), "{oops");
    await rejection(readManifest(dir), "BAD_REQUEST");
  });
});

describe("findEntry", () => {
  it("prefers main, then index.ts, then index.js", async () => {
    expect(await findEntry(fixture("main-field"))).toBe("src/app.ts");
    expect(await findEntry(fixture("ts-app"))).toBe("index.ts");
    expect(await findEntry(fixture("echo-js"))).toBe("index.js");
    const both = await writeApp({ "index.js": "", "index.ts": "" });
    expect(await findEntry(both)).toBe("index.ts");
  });

  it("uses a manifest passed in instead of reading one", async () => {
    const dir = await writeApp({ "other.js": "", "index.js": "" });
    expect(await findEntry(dir, { main: "other.js" })).toBe("other.js");
  });

  it("fails with BUILD_FAILED when main is missing or there is no entry", async () => {
    const missingMain = await writeApp({ "praas.json": '{"main":"nope.ts"}', "index.js": "" });
    const error = await rejection(findEntry(missingMain), "BUILD_FAILED");
    expect(error.message).toContain("nope.ts");
    await rejection(findEntry(await writeApp({ "lib.js": "" })), "BUILD_FAILED");
  });
});
