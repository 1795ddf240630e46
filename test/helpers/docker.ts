/**
 * Docker for the tests: a client, whether the engine and the runtime image are there (the
 * global setup starts dockerd and builds the images when it can), and the labels that mark this
 * run's containers so the teardown can prove none is left.
 */
import type Docker from "dockerode";
import { dockerClient, dockerUnavailable } from "../../src/backends/docker/index.js";

export const docker: Docker = dockerClient();

/** Undefined when the docker tests can run; else why not (they are skipped with it). */
export function dockerSkipReason(): Promise<string | undefined> {
  return dockerUnavailable(docker);
}

/** The control-plane id of a test: the teardown finds this run's containers by its prefix. */
export function testControlPlaneId(label: string): string {
  return `test-${process.env.PRAAS_TEST_RUN ?? "manual"}-${label}`;
}

/** `promise`, or a rejection naming `what` after `ms`: a bounded wait on an event. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
