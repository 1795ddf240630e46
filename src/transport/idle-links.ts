/**
 * Keeping connections to many peers bounded: routes kept least recently used first (a Map
 * keeps insertion order, so a use moves a route to the end), and the first of them whose
 * connection has nothing in flight is the one to close.
 */
import type { FrameLink } from "./frame-link.js";

/** Moves `key` to the end of `routes` (most recently used). */
export function touchRoute<V>(routes: Map<string, V>, key: string, value: V): void {
  routes.delete(key);
  routes.set(key, value);
}

/** The least recently used of `routes` whose open link (in `links`) has no request in flight. */
export function idlestRoute(
  routes: Map<string, unknown>,
  links: ReadonlyMap<string, FrameLink>,
): string | undefined {
  for (const key of routes.keys()) {
    const link = links.get(key);
    if (link !== undefined && link.pendingCount === 0) return key;
  }
  return undefined;
}
