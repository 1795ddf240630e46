export { RendezvousServer, type RendezvousCounters, type RendezvousObserver } from "./server.js";
export {
  resolveRendezvousConfig,
  type RendezvousConfig,
  type RendezvousServerOptions,
} from "./config.js";
export { pairAndConnect, type PairAndConnectOptions, type PairedConnection } from "./connect.js";
