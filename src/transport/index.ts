export {
  FrameLink,
  decodeErrorFrame,
  encodeErrorRecord,
  type FrameLinkOptions,
} from "./frame-link.js";
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  connectFrameLink,
  connectionRefused,
  openSocket,
  refuseRequest,
  type ConnectOptions,
} from "./connect.js";
export { canStopKernelReads, reclaim, startKernelReads, stopKernelReads } from "./kernel-reads.js";
export { idlestRoute, touchRoute } from "./idle-links.js";
export { SharedDeadlines } from "./deadlines.js";
export {
  STOPPING,
  callsAnswered,
  pingAfterCalls,
  sayGoodbye,
  waitUpTo,
  writtenOut,
  type CallsOnLink,
} from "./goodbye.js";
export { listenFailure } from "./listen-errors.js";
