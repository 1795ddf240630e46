// `praas init` scaffolds an application outside the repository whose types resolve and whose
// own test runs its functions on the real runtime. `npm install` would fetch TypeScript from
// the registry (tests stay on loopback), so links to this checkout's packages stand in for it.
import { execFile } from "node:child_process";
import { mkdir, readFile, readdir, symlink } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir } from "../helpers/process-harness.js";
import { testEnv } from "../helpers/praas-up.js";
import { errorLine, runCli } from "./run-cli.js";

const run = promisify(execFile);
const REPO = path.resolve(".");
let temp: Awaited<ReturnType<typeof makeTempDir>>;

beforeAll(async () => {
  temp = await makeTempDir("cli-init");
});

afterAll(async () => {
  await temp?.remove();
});

/** What `npm install` of the scaffold's devDependencies would give it. */
async function install(dir: string): Promise<void> {
  await mkdir(path.join(dir, "node_modules"));
  await symlink(REPO, path.join(dir, "node_modules", "praas"));
  await symlink(
    path.join(REPO, "node_modules", "typescript"),
    path.join(dir, "node_modules", "typescript"),
  );
}

async function typeCheck(dir: string): Promise<void> {
  const tsc = path.join(REPO, "node_modules", "typescript", "bin", "tsc");
  await run(process.execPath, [tsc, "--noEmit", "-p", dir], { cwd: dir });
}

async function runOwnTests(dir: string): Promise<string> {
  const { stdout } = await run(process.execPath, ["--test"], {
    cwd: dir,
    env: testEnv(),
    timeout: 180_000,
  });
  return stdout;
}

describe("praas init", { timeout: 240_000 }, () => {
  it.each(["counter", "todo"])(
    "the %s template type-checks and its test passes on the real runtime",
    async (template) => {
      const dir = path.join(temp.dir, `app-${template}`);
      const result = await runCli(["init", dir, "--template", template]);
      expect(result.code).toBe(0);
      expect(result.stdout.toString()).toContain(`created application app-${template}`);
      expect((await readdir(dir)).sort()).toEqual(
        [".gitignore", "package.json", "praas.json", "src", "test", "tsconfig.json"].sort(),
      );
      const manifest = JSON.parse(await readFile(path.join(dir, "praas.json"), "utf8")) as object;
      expect(manifest).toMatchObject({ name: `app-${template}`, main: "src/index.ts" });
      await install(dir);
      await typeCheck(dir);
      expect(await runOwnTests(dir)).toMatch(/# pass 1\n# fail 0/);
    },
  );

  it("refuses to write over an existing application and names an unknown template", async () => {
    const dir = path.join(temp.dir, "app-twice");
    expect((await runCli(["init", dir])).code).toBe(0);
    expect(errorLine(await runCli(["init", dir]))).toMatch(/^error \[ALREADY_EXISTS\]: .*exists/);
    const unknown = await runCli(["init", path.join(temp.dir, "x"), "--template", "nope"]);
    expect(errorLine(unknown)).toMatch(
      /^error \[BAD_REQUEST\]: no template nope; there are: .*counter/,
    );
  });
});
