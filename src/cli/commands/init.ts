/**
 * `praas init [DIR] [--template counter|todo] [--name NAME]`: a new application folder with
 * `praas.json`, TypeScript sources whose `praas` types resolve, and a test that runs the
 * functions locally on the real runtime (`npm install && npm test`).
 */
import { access, cp, mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import type { Command } from "commander";

import { PraaSError, assertName } from "../../protocol/index.js";
import { printResult, type OutputFlags } from "../output.js";

interface InitFlags extends OutputFlags {
  template: string;
  name?: string;
}

interface Scaffold {
  dir: string;
  name: string;
  template: string;
  files: string[];
}

// The package root is three levels above both src/cli/commands and dist/cli/commands.
const PACKAGE_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const TEMPLATES = path.join(PACKAGE_ROOT, "templates");

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function templateNames(): Promise<string[]> {
  const entries = await readdir(TEMPLATES, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name);
}

async function assertTemplate(template: string): Promise<void> {
  const names = await templateNames();
  if (!names.includes(template)) {
    throw new PraaSError("BAD_REQUEST", `no template ${template}; there are: ${names.join(", ")}`);
  }
}

function packageJson(name: string): string {
  const manifest = {
    name,
    private: true,
    type: "module",
    scripts: { test: "tsc --noEmit && node --test", deploy: "praas deploy ." },
    // A local package until praas is on a registry: the one this `praas init` ran from.
    devDependencies: { praas: `file:${PACKAGE_ROOT.replace(/\/$/, "")}`, typescript: "^5.9.3" },
  };
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "ESNext",
    moduleResolution: "Bundler",
    strict: true,
    noUncheckedIndexedAccess: true,
    noEmit: true,
    skipLibCheck: true,
  },
  include: ["src"],
};

/** The generated files besides the template's own, by path in the new folder. */
function generatedFiles(name: string): Map<string, string> {
  const praasJson = { name, main: "src/index.ts", defaults: { vcpus: 1, memory: 256 } };
  return new Map([
    ["praas.json", `${JSON.stringify(praasJson, null, 2)}\n`],
    ["package.json", packageJson(name)],
    ["tsconfig.json", `${JSON.stringify(TSCONFIG, null, 2)}\n`],
    [".gitignore", "node_modules/\n"],
  ]);
}

// Never overwrite a user's work: every file the scaffold would write must be new.
async function refuseExisting(dir: string, names: string[]): Promise<void> {
  for (const name of names) {
    if (await exists(path.join(dir, name))) {
      throw new PraaSError(
        "ALREADY_EXISTS",
        `${path.join(dir, name)} exists; init writes new folders only`,
      );
    }
  }
}

async function scaffold(dir: string, flags: InitFlags): Promise<Scaffold> {
  await assertTemplate(flags.template);
  const name = flags.name ?? path.basename(path.resolve(dir));
  assertName(name, "application");
  const generated = generatedFiles(name);
  await refuseExisting(dir, [...generated.keys(), "src", "test"]);
  await mkdir(dir, { recursive: true });
  await cp(path.join(TEMPLATES, flags.template), dir, { recursive: true });
  for (const [file, text] of generated) await writeFile(path.join(dir, file), text);
  return { dir, name, template: flags.template, files: [...generated.keys(), "src/", "test/"] };
}

function renderScaffold(result: Scaffold): string {
  return [
    `created application ${result.name} (template ${result.template}) in ${result.dir}`,
    `  cd ${result.dir} && npm install   # TypeScript and the praas types`,
    "  npm test                          # runs the functions locally",
    "  praas deploy .                    # to a running control plane",
  ].join("\n");
}

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("create an application folder: praas.json, TypeScript sources and a test")
    .argument("[dir]", "folder to create (default: the current one)", ".")
    .option("--template <name>", "what the application starts as: counter or todo", "counter")
    .option("--name <name>", "application name (default: the folder's name)")
    .option("--json", "print the result as JSON")
    .action(async (dir: string, flags: InitFlags) => {
      printResult(flags, await scaffold(dir, flags), renderScaffold);
    });
}
