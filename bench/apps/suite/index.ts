// Every benchmark function except the plain echo app's: one bundle, deployed once per run.
export { echo, localLoop } from "./local";
export { pingpong, pong, redisPingpong, redisPong } from "./messaging";
export { reduceRedis, reduceReset, reduceState } from "./reduction";
export { redisOps, stateOps } from "./state";
export { fill, inspect } from "./swap";
export { countKeys, durablePuts, fillKeys, parentPid } from "./durable";
