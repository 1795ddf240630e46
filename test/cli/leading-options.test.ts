import { describe, expect, it } from "vitest";

import { moveLeadingClientOptions } from "../../src/cli/leading-options.js";

describe("client options before the command", () => {
  it("move after it, before a `--` that ends the options", () => {
    expect(moveLeadingClientOptions(["--url", "U", "--json", "apps", "ls"])).toEqual([
      "apps",
      "ls",
      "--url",
      "U",
      "--json",
    ]);
    expect(moveLeadingClientOptions(["--token=T", "invoke", "a", "f", "--", "--x"])).toEqual([
      "invoke",
      "a",
      "f",
      "--token=T",
      "--",
      "--x",
    ]);
  });

  it("leave everything else where it is", () => {
    const untouched = [
      ["apps", "ls", "--url", "U"],
      ["--help"],
      ["--version", "--url", "U"],
      ["--url"],
      ["--bogus", "--url", "U", "apps"],
    ];
    for (const args of untouched) expect(moveLeadingClientOptions(args)).toEqual(args);
  });
});
