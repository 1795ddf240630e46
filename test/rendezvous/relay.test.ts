/** The relay's bandwidth cap, on an explicit clock. */
import { describe, expect, it } from "vitest";

import { RateLimit } from "../../src/rendezvous/relay.js";

describe("relay rate limit", () => {
  it("lets a burst of 100 ms worth through, then makes the sender wait for the rest", () => {
    const limit = new RateLimit(1000); // bytes per second
    expect(limit.take(100, 10_000)).toBe(0);
    expect(limit.take(100, 10_000)).toBe(100);
    expect(limit.take(500, 10_000)).toBe(600);
  });

  it("forgets debt once the time it stood for has passed", () => {
    const limit = new RateLimit(1000);
    expect(limit.take(1000, 10_000)).toBe(900);
    expect(limit.take(100, 11_000)).toBe(0);
    expect(limit.take(1000, 60_000)).toBe(900);
  });
});
