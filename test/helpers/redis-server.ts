// The tests start Redis the way the benchmarks do: one implementation, in src/bench.
export * from "../../src/bench/redis.js";
