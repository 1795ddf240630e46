import { afterAll, describe, expect, it } from "vitest";

import { buildApplication, packDirectory, unpackTarball } from "../../src/apps/index.js";
import { NO_PERMISSIONS } from "../../src/protocol/index.js";
import { callInChild, fixture, rejection, removeTempDirs, tempDir, writeApp } from "./helpers.js";

afterAll(removeTempDirs);

describe("buildApplication: working applications", () => {
  it("lists only the function exports of a JS entry, and the bundle runs", async () => {
    const app = await buildApplication(fixture("echo-js"));
    expect(app.functions).toEqual(["echo"]);
    expect(app.manifest).toEqual({
      defaults: {},
      env: {},
      permissions: NO_PERMISSIONS,
      serialize: false,
    });
    expect(await callInChild(app.code, "echo", "ping")).toEqual({ bytes: "ping" });
  });

  it("builds TypeScript with a type import from praas and an extensionless import", async () => {
    const app = await buildApplication(fixture("ts-app"));
    expect(app.functions).toEqual(["sum", "whoami"]);
    expect(app.manifest).toEqual({
      env: {},
      permissions: NO_PERMISSIONS,
      serialize: false,
      name: "ts-app",
      defaults: { vcpus: 0.5, memory: 256 },
    });
    expect(await callInChild(app.code, "sum", "[1, 2, 39]")).toEqual({ string: "42" });
    const ctx = { processId: "p1", functionName: "whoami" };
    expect(await callInChild(app.code, "whoami", "", ctx)).toEqual({
      value: { process: "p1", fn: "whoami" },
    });
  });

  it("bundles a CommonJS dependency from the app's own node_modules", async () => {
    const app = await buildApplication(fixture("with-dep"));
    expect(app.functions).toEqual(["pad"]);
    expect(await callInChild(app.code, "pad", "abc")).toEqual({ string: "*****abc" });
  });

  it("uses praas.json's main over index.js", async () => {
    const app = await buildApplication(fixture("main-field"));
    expect(app.functions).toEqual(["hello"]);
    expect(app.manifest.main).toBe("src/app.ts");
    expect(await callInChild(app.code, "hello", "")).toEqual({ string: "hello from src/app.ts" });
  });

  it("builds an application that went through pack and unpack, dependency included", async () => {
    const dir = await tempDir();
    await unpackTarball(await packDirectory(fixture("with-dep")), dir, { maxBytes: 1024 * 1024 });
    const app = await buildApplication(dir);
    expect(await callInChild(app.code, "pad", "xy")).toEqual({ string: "******xy" });
  });

  it("produces one ESM file with an inline source map and no copy of the sources", async () => {
    const text = (await buildApplication(fixture("ts-app"))).code.toString("utf8");
    expect(text).toContain("//# sourceMappingURL=data:application/json;base64,");
    const map = text.slice(text.lastIndexOf("base64,") + "base64,".length);
    const decoded = JSON.parse(Buffer.from(map, "base64").toString("utf8")) as {
      sources: string[];
      sourcesContent?: unknown;
    };
    expect(decoded.sources).toEqual(expect.arrayContaining(["index.ts", "lib/math.ts"]));
    expect(decoded.sourcesContent).toBeUndefined();
  });

  it("tolerates a runtime import of praas and output printed while loading", async () => {
    const dir = await writeApp({
      "index.js": 'import "praas";\nconsole.log("{not json");\nexport const f = () => "ok";\n',
    });
    const app = await buildApplication(dir);
    expect(app.functions).toEqual(["f"]);
  });

  it("runs the top-level code sandboxed: no reads outside the bundle, no programs unless asked", async () => {
    const reader = await writeApp({
      "index.js":
        'import { readFileSync } from "node:fs";\nreadFileSync("/etc/hostname");\nexport const f = () => 1;\n',
    });
    const denied = await rejection(buildApplication(reader), "BUILD_FAILED");
    expect(denied.message).toMatch(/ERR_ACCESS_DENIED|Access to this API has been restricted/);
    const spawner = (manifest: string) =>
      writeApp({
        "praas.json": manifest,
        "index.js":
          'import { execFileSync } from "node:child_process";\nexecFileSync("true");\nexport const f = () => 1;\n',
      });
    await rejection(buildApplication(await spawner("{}")), "BUILD_FAILED");
    const allowed = await buildApplication(
      await spawner('{"permissions": {"childProcess": true}}'),
    );
    expect(allowed.functions).toEqual(["f"]);
  });

  it("does not count a default export as a callable function", async () => {
    const dir = await writeApp({
      "index.js": "export default function () {}\nexport function named() {}\n",
    });
    expect((await buildApplication(dir)).functions).toEqual(["named"]);
  });

  it("counts only exports a call can name as functions", async () => {
    const dir = await writeApp({
      "index.js":
        "function f() {}\n" +
        "export function ok() {}\nexport function $dollar() {}\nexport function _helper() {}\n" +
        'export { f as "two words", f as "\\u001b[2Jclear", f as "@http", f as "SELF" };\n',
    });
    expect((await buildApplication(dir)).functions).toEqual(["ok"]);
  });
});

describe("buildApplication: failures are BUILD_FAILED at deploy time", () => {
  it("reports a syntax error with file, line and column", async () => {
    const error = await rejection(buildApplication(fixture("syntax-error")), "BUILD_FAILED");
    expect(error.message).toMatch(/index\.ts:5:\d+: /);
  });

  it("reports the error thrown while the module loads", async () => {
    const error = await rejection(buildApplication(fixture("throws-on-load")), "BUILD_FAILED");
    expect(error.message).toContain("RangeError: boom at import time");
  });

  it("rejects an application that exports no functions", async () => {
    const error = await rejection(buildApplication(fixture("no-functions")), "BUILD_FAILED");
    expect(error.message).toContain("exports no functions");
  });

  it("gives up on an application that takes too long to load", async () => {
    const build = buildApplication(fixture("slow-load"), { loadTimeoutMs: 500 });
    const error = await rejection(build, "BUILD_FAILED");
    expect(error.message).toBe("application took longer than 500ms to load");
  });

  // Both hold what they took and then wait, so the bound meets the peak rather than a moment of
  // it; without a bound they would hold 512 MiB until the load timeout.
  it.each([
    ["JavaScript heap", "a.push(new Array(1024 * 1024).fill(1))"],
    ["Buffers outside the heap", "a.push(Buffer.alloc(8 * 1024 * 1024, 1))"],
  ])("fails fast when the top level takes too much memory: %s", async (_what, push) => {
    const dir = await writeApp({
      "index.js": [
        "const a = [];",
        `for (let i = 0; i < 64; i++) ${push};`,
        "await new Promise((resolve) => setTimeout(resolve, 60_000));",
        "export function f() { return a.length; }",
      ].join("\n"),
    });
    const started = Date.now();
    const build = buildApplication(dir, { loadMemoryMiB: 128, loadTimeoutMs: 5_000 });
    const error = await rejection(build, "BUILD_FAILED");
    expect(error.message).toBe("application used too much memory while loading (limit 128 MiB)");
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("reports an unresolvable import", async () => {
    const dir = await writeApp({ "index.ts": 'import x from "./missing";\nexport const f = x;\n' });
    const error = await rejection(buildApplication(dir), "BUILD_FAILED");
    expect(error.message).toMatch(/index\.ts:1:\d+: Could not resolve "\.\/missing"/);
  });

  it("rejects a value import from praas at build time", async () => {
    const dir = await writeApp({
      "index.ts": 'import { invoke } from "praas";\nexport const f = () => invoke;\n',
    });
    const error = await rejection(buildApplication(dir), "BUILD_FAILED");
    expect(error.message).toContain('import "invoke"');
  });

  it("reports a process that exits while loading, with its stderr", async () => {
    const dir = await writeApp({
      "index.js": 'console.error("bye");\nprocess.exit(3);\nexport function f() {}\n',
    });
    const error = await rejection(buildApplication(dir), "BUILD_FAILED");
    expect(error.message).toMatch(/exited with code 3 while loading:\nbye/);
  });

  it("does not hand the control plane's environment to user code", async () => {
    process.env.PRAAS_TEST_SECRET = "s3cret";
    try {
      const dir = await writeApp({
        "index.js":
          'if (process.env.PRAAS_TEST_SECRET) throw new Error("leaked");\nexport function f() {}\n',
      });
      expect((await buildApplication(dir)).functions).toEqual(["f"]);
    } finally {
      delete process.env.PRAAS_TEST_SECRET;
    }
  });

  it("loads the module with the environment its workers get: praas.json env, secrets over it", async () => {
    const dir = await writeApp({
      "praas.json": JSON.stringify({ env: { GREETING: "hi", MODE: "plain" } }),
      "index.js":
        'if (process.env.GREETING !== "hi") throw new Error("GREETING is not set");\n' +
        'if (process.env.MODE !== "secret") throw new Error("MODE is " + process.env.MODE);\n' +
        "export function f() {}\n",
    });
    const error = await rejection(buildApplication(dir), "BUILD_FAILED");
    expect(error.message).toContain("MODE is plain");
    const built = await buildApplication(dir, { secrets: { MODE: "secret" } });
    expect(built.functions).toEqual(["f"]);
  });

  it("rejects a directory with no entry module", async () => {
    const dir = await writeApp({ "README.md": "nothing here\n" });
    const error = await rejection(buildApplication(dir), "BUILD_FAILED");
    expect(error.message).toContain("no entry module");
  });
});
