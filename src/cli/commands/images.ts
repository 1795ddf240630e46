/**
 * `praas images build [--local-base] [--tag T] [--base IMAGE] [--docker-host URL]`: the
 * `praas-runtime` and `praas-control-plane` images from this package's dist/ (see
 * src/backends/docker/images.ts). Progress on stderr; the image names on stdout.
 */
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { printResult, type OutputFlags } from "../output.js";

interface BuildFlags extends OutputFlags {
  localBase?: boolean;
  tag: string;
  base?: string;
  dockerHost?: string;
}

async function build(flags: BuildFlags, env: NodeJS.ProcessEnv): Promise<void> {
  // Loaded on use: dockerode is heavy, and other commands never need it.
  const { buildImages, dockerClient } = await import("../../backends/docker/index.js");
  const docker = dockerClient(flags.dockerHost ?? env.DOCKER_HOST);
  const built = await buildImages(docker, {
    root: fileURLToPath(new URL("../../../", import.meta.url)),
    tag: flags.tag,
    localBase: flags.localBase === true,
    ...(flags.base === undefined ? {} : { base: flags.base }),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  printResult(flags, built, (images) =>
    [`built ${images.runtime} and ${images.controlPlane}`, ...images.services].join("\n"),
  );
}

export function registerImages(program: Command): void {
  const images = program.command("images").description("container images for the docker backend");
  images
    .command("build")
    .description("build the praas-runtime and praas-control-plane images from dist/")
    .option(
      "--local-base",
      "first make praas-node-base:local from this machine's node, and praas-redis:local and " +
        "praas-haproxy:local from its redis-server and haproxy (no registry)",
    )
    .option("--tag <tag>", "image tag", "latest")
    .option("--base <image>", "base image with Node 20 (default node:20-slim)")
    .option("--docker-host <url>", "Docker engine (default: $DOCKER_HOST, else the local socket)")
    .option("--json", "print the image names as JSON")
    .action((flags: BuildFlags) => build(flags, process.env));
}
