export {
  FrameLink,
  canStopKernelReads,
  reclaim,
  decodeErrorFrame,
  encodeErrorRecord,
  type FrameLinkOptions,
} from "./frame-link.js";
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  connectFrameLink,
  openSocket,
  type ConnectOptions,
} from "./connect.js";
