// `praas images build`: the images the global setup built from this dist/ are up to date, so a
// second build reuses both (no layer rebuilt, nothing pulled); a bad Docker host is one clear
// error. Skipped, with the reason, without Docker.
import { describe, expect, it } from "vitest";
import { dockerSkipReason } from "../helpers/docker.js";
import { runCli } from "./run-cli.js";

const skip = await dockerSkipReason();

describe.skipIf(skip !== undefined)("praas images build", () => {
  it("reuses both images when dist/ has not changed", async () => {
    const built = await runCli(["images", "build", "--local-base", "--json"]);
    expect(built.code).toBe(0);
    expect(JSON.parse(built.stdout.toString())).toEqual({
      runtime: "praas-runtime:latest",
      controlPlane: "praas-control-plane:latest",
      reused: ["praas-runtime:latest", "praas-control-plane:latest"],
      // The compose stacks' Redis and HAProxy, from this machine's binaries (provisioned).
      services: ["praas-redis:local", "praas-haproxy:local"],
    });
    expect(built.stderr).toContain("praas-node-base:local is up to date");
  });
});

describe("praas images build --docker-host", () => {
  it("refuses an unsupported Docker host URL with one error line", async () => {
    const failed = await runCli(["images", "build", "--docker-host", "ftp://nowhere"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(
      /^error \[BAD_REQUEST\]: unsupported Docker host ftp:\/\/nowhere/,
    );
  });
});
