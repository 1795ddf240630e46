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
  type ConnectOptions,
} from "./connect.js";
export { canStopKernelReads, reclaim, startKernelReads, stopKernelReads } from "./kernel-reads.js";
export { idlestRoute, touchRoute } from "./idle-links.js";
export { SharedDeadlines } from "./deadlines.js";
