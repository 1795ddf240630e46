/**
 * Real NATs from network namespaces for the tests (root only): the topology itself lives in
 * src/bench/netns.ts (the NAT benchmark rows build the same one); here its namespaces carry the
 * test run's id, which test/global-setup.ts checks for leftovers at the end of the run.
 */
import {
  buildNatTopology as buildTopology,
  namespacesUnavailable,
  type NatTopology,
} from "../../src/bench/netns.js";

export {
  PUBLIC_HOST,
  deleteNamespace,
  killInside,
  namespacesWithPrefix,
  nextJsonLine,
  spawnNodeIn,
  type NatTopology,
} from "../../src/bench/netns.js";

/** Our namespaces of this test run: the prefix test/global-setup.ts checks at the end. */
export function namespacePrefix(runId = process.env.PRAAS_TEST_RUN ?? "norun"): string {
  return `praas-${runId}-`;
}

export function canBuildNamespaces(): boolean {
  return namespacesUnavailable() === undefined;
}

export function buildNatTopology(options: { symmetric: boolean }): NatTopology {
  return buildTopology({ ...options, prefix: namespacePrefix() });
}
