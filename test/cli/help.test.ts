import { describe, expect, it } from "vitest";

import { runCli } from "./run-cli.js";

const COMMANDS = [
  [],
  ["up"],
  ["deploy"],
  ["apps"],
  ["apps", "ls"],
  ["apps", "get"],
  ["apps", "rm"],
  ["process"],
  ["process", "create"],
  ["process", "ls"],
  ["process", "get"],
  ["process", "swap"],
  ["process", "resume"],
  ["process", "rm"],
  ["invoke"],
  ["certs"],
  ["init"],
];

/** The commands that talk to the control plane. */
function isClientCommand(path: string[]): boolean {
  return path.length === 2 || path[0] === "deploy" || path[0] === "invoke";
}

// Each case spawns a CLI; a few at a time keeps the suite short.
describe.concurrent("praas --help", { timeout: 90_000 }, () => {
  it.each(COMMANDS.map((path) => [path.join(" ") || "(root)", path]))(
    "describes %s",
    async (_label, path) => {
      const result = await runCli([...path, "--help"]);
      expect(result.code).toBe(0);
      const text = result.stdout.toString();
      expect(text).toContain(`Usage: ${["praas", ...path].join(" ")}`);
      // The line after the usage line is the command's description.
      expect(text.split("\n")[2]?.trim().length).toBeGreaterThan(10);
      if (isClientCommand(path)) {
        for (const option of ["--url", "--token", "--ca", "--json"]) expect(text).toContain(option);
      }
    },
  );

  it("documents the flags for running as one of several replicas", async () => {
    const text = (await runCli(["up", "--help"])).stdout.toString();
    for (const flag of ["--advertise-control", "--replica-id", "--replica-address"])
      expect(text).toContain(flag);
  });

  it("says the client options may come before the command", async () => {
    const text = (await runCli(["--help"])).stdout.toString();
    expect(text).toContain("--url, --token, --ca and --json, before or after the command");
  });

  it("prints the package version", async () => {
    const result = await runCli(["--version"]);
    expect(result.stdout.toString()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
