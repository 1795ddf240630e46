import { lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { gzipSync } from "node:zlib";

import { afterAll, describe, expect, it } from "vitest";

import { packDirectory, unpackTarball } from "../../src/apps/index.js";
import { fixture, rejection, removeTempDirs, tempDir } from "./helpers.js";
import { rawTarball, symlinkEntry } from "./tarballs.js";

afterAll(removeTempDirs);

const MiB = 1024 * 1024;

/** Every regular file under `dir`, relative path → bytes. */
async function snapshot(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries.filter((e) => e.isFile())) {
    const path = join(entry.parentPath, entry.name);
    files.set(relative(dir, path), await readFile(path));
  }
  return files;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

describe("packDirectory / unpackTarball round trip", () => {
  it("preserves every file byte for byte, node_modules included", async () => {
    const dest = await tempDir();
    await unpackTarball(await packDirectory(fixture("with-dep")), dest, { maxBytes: MiB });
    const unpacked = await snapshot(dest);
    expect(unpacked).toEqual(await snapshot(fixture("with-dep")));
    expect([...unpacked.keys()]).toContain(join("node_modules", "leftpad-lite", "index.js"));
  });

  it("keeps binary content, nested directories and inside symlinks", async () => {
    const source = await tempDir();
    const binary = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256));
    await mkdir(join(source, "a", "b"), { recursive: true });
    await writeFile(join(source, "a", "b", "blob.bin"), binary);
    await symlink(join("b", "blob.bin"), join(source, "a", "link"));
    const dest = await tempDir();
    await unpackTarball(await packDirectory(source), dest, { maxBytes: MiB });
    expect(await readFile(join(dest, "a", "b", "blob.bin"))).toEqual(binary);
    expect(await readlink(join(dest, "a", "link"))).toBe(join("b", "blob.bin"));
  });

  it("leaves .git out", async () => {
    const source = await tempDir();
    await mkdir(join(source, ".git"));
    await writeFile(join(source, ".git", "HEAD"), "ref: refs/heads/main\n");
    await writeFile(join(source, "index.js"), "export function f() {}\n");
    const dest = await tempDir();
    await unpackTarball(await packDirectory(source), dest, { maxBytes: MiB });
    expect(await readdir(dest)).toEqual(["index.js"]);
  });

  it("with a package.json, packs only the packages its dependencies need at run time", async () => {
    const source = await tempDir();
    const pkg = async (dir: string, manifest: object) => {
      await mkdir(join(source, dir), { recursive: true });
      await writeFile(join(source, dir, "package.json"), JSON.stringify(manifest));
      await writeFile(join(source, dir, "index.js"), "module.exports = 1;\n");
    };
    await writeFile(join(source, "index.js"), "export function f() {}\n");
    await pkg(".", { dependencies: { a: "1" }, devDependencies: { typescript: "5" } });
    await pkg("node_modules/a", { dependencies: { "@s/b": "1", c: "1" } });
    await pkg("node_modules/@s/b", {});
    await pkg("node_modules/@s/unused", {});
    await pkg("node_modules/a/node_modules/c", {});
    await pkg("node_modules/c", {}); // shadowed by a's nested copy
    await pkg("node_modules/typescript", {});
    await mkdir(join(source, "node_modules", ".bin"));
    await symlink("/usr/bin/env", join(source, "node_modules", ".bin", "tsc"));
    await symlink("/tmp", join(source, "node_modules", "praas")); // a `file:` dev dependency
    const dest = await tempDir();
    await unpackTarball(await packDirectory(source), dest, { maxBytes: MiB });
    const files = [...(await snapshot(dest)).keys()].filter((f) => f.endsWith("index.js")).sort();
    expect(files).toEqual([
      "index.js",
      "node_modules/@s/b/index.js",
      "node_modules/a/index.js",
      "node_modules/a/node_modules/c/index.js",
    ]);
  });

  it("refuses to pack an empty directory", async () => {
    await rejection(packDirectory(await tempDir()), "BAD_REQUEST");
  });
});

describe("unpackTarball treats the tarball as hostile", () => {
  async function unpackRaw(entries: Parameters<typeof rawTarball>[0]) {
    const root = await tempDir();
    const dest = join(root, "dest");
    const result = unpackTarball(rawTarball(entries), dest, { maxBytes: MiB });
    return { root, dest, result };
  }

  it("accepts a well-formed hand-made tarball", async () => {
    const { dest, result } = await unpackRaw([{ path: "ok.txt", body: "fine" }]);
    await result;
    expect(await readFile(join(dest, "ok.txt"), "utf8")).toBe("fine");
  });

  it("does not write a ../ entry outside the destination", async () => {
    const { root, result } = await unpackRaw([{ path: "../escape", body: "gotcha" }]);
    const error = await rejection(result, "BAD_REQUEST");
    expect(error.message).toContain("../escape");
    expect(await exists(join(root, "escape"))).toBe(false);
    expect(await exists(join(root, "dest"))).toBe(false);
  });

  it("does not write an absolute path", async () => {
    // Absolute, inside a fresh temp dir of our own: concurrent runs never share it.
    const outside = join(await tempDir(), "abs-escape");
    const { root, result } = await unpackRaw([{ path: outside, body: "x" }]);
    await rejection(result, "BAD_REQUEST");
    expect(await exists(outside)).toBe(false);
    expect(await exists(join(root, "dest"))).toBe(false);
  });

  it.each([
    ["an absolute target", "/etc"],
    ["a relative target that climbs out", "../../outside"],
  ])("rejects a symlink with %s", async (_what, linkpath) => {
    const { dest, result } = await unpackRaw([
      { path: "sub/link", type: "SymbolicLink", linkpath },
    ]);
    await rejection(result, "BAD_REQUEST");
    expect(await exists(join(dest, "sub", "link"))).toBe(false);
  });

  it.each([
    ["d -> . then l -> d/d/..", [symlinkEntry("d", "."), symlinkEntry("l", "d/d/..")]],
    [
      "l -> d/d/.. then d -> . (judged with the whole archive)",
      [symlinkEntry("l", "d/d/.."), symlinkEntry("d", ".")],
    ],
    [
      "a chain through a subdirectory",
      [
        { path: "s", type: "Directory" as const },
        symlinkEntry("s/up", ".."),
        symlinkEntry("x", "s/up/s/up/.."),
      ],
    ],
    ["a loop", [symlinkEntry("a", "b"), symlinkEntry("b", "a")]],
  ])(
    "refuses a symlink chain that escapes or loops (%s) before writing anything",
    async (_what, links) => {
      const { root, dest, result } = await unpackRaw([{ path: "first.txt", body: "x" }, ...links]);
      await rejection(result, "BAD_REQUEST");
      expect(await exists(dest)).toBe(false);
      expect(await readdir(root)).toEqual([]);
    },
  );

  it("refuses a file written through a symlink, before writing anything", async () => {
    const { dest, result } = await unpackRaw([
      { path: "first.txt", body: "x" },
      { path: "sub", type: "Directory" },
      symlinkEntry("d", "sub"),
      { path: "d/f.txt", body: "through the link" },
    ]);
    const error = await rejection(result, "BAD_REQUEST");
    expect(error.message).toContain("d/f.txt");
    expect(await exists(dest)).toBe(false);
  });

  it("still accepts links that stay inside without passing through links", async () => {
    const { dest, result } = await unpackRaw([
      { path: "sub/f.txt", body: "inside" },
      symlinkEntry("sub/up", ".."),
      symlinkEntry("direct", "sub/../sub/f.txt"),
    ]);
    await result;
    expect(await readFile(join(dest, "direct"), "utf8")).toBe("inside");
    expect(await readlink(join(dest, "sub", "up"))).toBe("..");
  });

  it("rejects a hard link to a file outside", async () => {
    const { result } = await unpackRaw([{ path: "hard", type: "Link", linkpath: "../x" }]);
    await rejection(result, "BAD_REQUEST");
  });

  it("rejects device and fifo entries", async () => {
    const { result } = await unpackRaw([{ path: "fifo", type: "FIFO" }]);
    await rejection(result, "BAD_REQUEST");
  });

  it("rejects garbage bytes and gzip-wrapped garbage as BAD_REQUEST", async () => {
    const dest = await tempDir();
    const garbage = Buffer.from("this is not a tarball at all, not even gzip");
    await rejection(unpackTarball(garbage, dest, { maxBytes: MiB }), "BAD_REQUEST");
    await rejection(unpackTarball(gzipSync(garbage), dest, { maxBytes: MiB }), "BAD_REQUEST");
  });

  it("rejects a truncated gzip stream", async () => {
    const tarball = await packDirectory(fixture("echo-js"));
    const truncated = tarball.subarray(0, Math.floor(tarball.length / 2));
    await rejection(unpackTarball(truncated, await tempDir(), { maxBytes: MiB }), "BAD_REQUEST");
  });

  it("caps the total unpacked size", async () => {
    const tarball = rawTarball([
      { path: "a.txt", body: "a".repeat(600) },
      { path: "b.txt", body: "b".repeat(600) },
    ]);
    const dest = join(await tempDir(), "dest");
    const error = await rejection(
      unpackTarball(tarball, dest, { maxBytes: 1000 }),
      "PAYLOAD_TOO_LARGE",
    );
    expect(error.message).toContain("1000 bytes");
    expect(await exists(dest)).toBe(false); // checked before anything is written
  });

  it("caps the number of entries", async () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({ path: `f${i}` }));
    const options = { maxBytes: MiB, maxEntries: 3 };
    await rejection(
      unpackTarball(rawTarball(entries), await tempDir(), options),
      "PAYLOAD_TOO_LARGE",
    );
  });
});
