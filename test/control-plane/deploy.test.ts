// Bundle identity is its content: a redeploy never runs old code, even when versions restart
// after `apps rm`; concurrent deploys each get their own version.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { PraaSError } from "../../src/protocol/index.js";
import { text } from "../helpers/process-harness.js";
import { useDeployedPlane } from "../helpers/deployed-plane.js";

const plane = useDeployedPlane("deploy");

/** An app directory whose `which` function answers `answer`. */
async function appDir(answer: string): Promise<string> {
  const dir = path.join(plane.dir(), `src-${answer}`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, "index.js"),
    `export function which() { return ${JSON.stringify(answer)}; }\n`,
  );
  return dir;
}

describe("deploy", () => {
  it("runs the new code after the app was removed and deployed again (versions restart)", async () => {
    const praas = plane.client();
    expect((await praas.deploy("flip", await appDir("first"))).version).toBe(1);
    await praas.createProcess("flip", "p", { vcpus: 1, memory: 256 });
    expect(text(await praas.invoke("flip", "which", "", { process: "p" }))).toBe("first");
    await praas.deleteApplication("flip", { force: true });

    expect((await praas.deploy("flip", await appDir("second"))).version).toBe(1);
    await praas.createProcess("flip", "p", { vcpus: 1, memory: 256 });
    expect(text(await praas.invoke("flip", "which", "", { process: "p" }))).toBe("second");
    await praas.deleteApplication("flip", { force: true });
  });

  it("gives concurrent deploys distinct versions", async () => {
    const praas = plane.client();
    const dirs = await Promise.all(["c1", "c2", "c3", "c4"].map(appDir));
    const deployed = await Promise.all(dirs.map((dir) => praas.deploy("race", dir)));
    const versions = deployed.map((info) => info.version).sort();
    expect(versions).toEqual([1, 2, 3, 4]);
    expect((await praas.getApplication("race")).version).toBe(4);
    await praas.deleteApplication("race", { force: true });
  });

  it("deploys code whose top level insists on its praas.json env and its secrets", async () => {
    const praas = plane.client();
    const dir = path.join(plane.dir(), "strict");
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, "praas.json"), JSON.stringify({ env: { GREETING: "hi" } }));
    const check = (name: string): string =>
      `if (!process.env.${name}) throw new Error("${name} is not set");\n`;
    await writeFile(
      path.join(dir, "index.js"),
      `${check("GREETING")}export function greet() { return process.env.GREETING; }\n`,
    );
    expect((await praas.deploy("strict", dir)).version).toBe(1);
    await praas.setSecret("strict", "API_KEY", "k1");
    await writeFile(
      path.join(dir, "index.js"),
      `${check("GREETING")}${check("API_KEY")}` +
        "export function greet() { return process.env.GREETING + process.env.API_KEY; }\n",
    );
    expect((await praas.deploy("strict", dir)).version).toBe(3);
    await praas.createProcess("strict", "p", { vcpus: 1, memory: 256 });
    expect(text(await praas.invoke("strict", "greet", "", { process: "p" }))).toBe("hik1");
    // Removing the secret it insists on would fail every next start of its processes: refused.
    const refused = await praas.deleteSecret("strict", "API_KEY").then(
      () => undefined,
      (failure: unknown) => failure as PraaSError,
    );
    expect(refused?.code).toBe("BUILD_FAILED");
    expect(refused?.message).toContain("would not load without secret API_KEY");
    expect(refused?.message).toContain("API_KEY is not set");
    expect((await praas.getApplication("strict")).version).toBe(3);
    await praas.setSecret("strict", "API_KEY", "k2");
    await praas.upgrade("strict", "p");
    expect(text(await praas.invoke("strict", "greet", "", { process: "p" }))).toBe("hik2");
    await praas.deleteApplication("strict", { force: true });
  });

  it("refuses a rollback of an application with no earlier version, saying so", async () => {
    const praas = plane.client();
    await praas.deploy("single", await appDir("only"));
    const error = await praas.rollback("single").then(
      () => undefined,
      (failure: unknown) => failure as PraaSError,
    );
    expect(error?.code).toBe("BAD_REQUEST");
    expect(error?.message).toBe("single has no version before 1 to roll back to (kept: 1)");
    expect((await praas.getApplication("single")).version).toBe(1);
    await praas.deleteApplication("single", { force: true });
  });
});
