/**
 * The binary frame shared by every PraaS link: the data plane (client ↔ process, process ↔
 * process), worker IPC (process ↔ its workers) and the control link (process ↔ control plane).
 *
 * Layout (little-endian), 12-byte header then metadata then payload:
 *
 * | offset | size | field                                              |
 * | ------ | ---- | -------------------------------------------------- |
 * | 0      | 1    | magic 0x50 ("P"): catches a desynchronised stream  |
 * | 1      | 1    | frame type (FrameType)                             |
 * | 2      | 2    | metadata length (u16)                              |
 * | 4      | 4    | request id (u32); replies echo the request's id    |
 * | 8      | 4    | payload length (u32)                               |
 *
 * Metadata is a short list of strings (see fields.ts); the payload is raw bytes, never encoded.
 */
export const FRAME_MAGIC = 0x50;
export const HEADER_BYTES = 12;
export const PROTOCOL_VERSION = 1;
export const HELLO_MAGIC = "praas";

/** Frame types. Each link uses a subset; the comment names the link and the metadata fields. */
export const FrameType = {
  // data plane
  Hello: 1, // client→process: [magic, version, token, role, name]
  Welcome: 2, // process→client: [version, process, application]
  Invoke: 3, // [function, invocationId?] + payload → Result | Error
  Result: 4, // reply: [...reply fields] + payload
  Error: 5, // reply: [code, message, errorName?, stack?]
  PeerPut: 6, // process→process mailbox message: [key, source] + payload → Result
  Results: 7, // reply to many requests at once: payload = their ids (u32 each), each an empty Result
  // worker IPC
  Ready: 10, // worker→process after loading the bundle: [...function names]
  Ping: 11, // process→worker: → Result at once; no answer means the worker's event loop is blocked
  Log: 12, // worker→process, one-way: [level, stream, function?, invocationId?] + the line (UTF-8)
  Load: 13, // process→worker, one-way: [application, process, durable|memory] + JSON env; load the bundle, answer Ready
  StateGet: 20, // [key] → Result ([] found | ["absent"]) + value
  StatePut: 21, // [key] + value → Result
  StateDelete: 22, // [key] → Result (["deleted"] | [])
  StateKeys: 23, // → Result + JSON [{key, updatedAt}]
  MailPut: 24, // [destination, key] + value → Result
  MailGet: 25, // [source, key, timeoutMs] → Result ([sender]) + value
  Call: 26, // [function, process] + payload → Result | Error
  Processes: 27, // → Result + JSON {active, swapped}
  StateChanged: 28, // process→worker, one-way: [key]; another worker changed it, drop any cached copy
  TxRead: 29, // [key] + read set (transaction.ts) → Result ([version] | [version, "absent"]) + value; CONFLICT when a read changed
  TxCommit: 30, // commit record (transaction.ts) → Result | Error CONFLICT; every write applied at once or none
  StateIncrement: 31, // [key, delta] → Result + the new value as a decimal string
  Alarm: 32, // ["set", function, at] + payload | ["cancel", function] → Result (["existed"] | []); stored by the control plane
  // control link
  Register: 40, // process→control plane: [application, process, secret, host, port, token]
  Status: 41, // process→control plane: JSON payload
  Command: 42, // control plane→process: [command] + JSON payload → Result | Error
  // rendezvous link (rendezvous.ts)
  Pair: 50, // party→rendezvous: [ticket] → Result [peerHost, peerPort] once the other party came
  Outcome: 51, // party→rendezvous: ["punched" | "failed"] → Result ["punch" | "relay"]
  // direct connections (worker IPC): the process hands an authenticated client connection to a worker
  CallStarted: 60, // worker→process, one-way: payload = start records (call-notices.ts), one per call; on the wire before it runs
  CallEnded: 61, // worker→process, one-way: payload = end records (call-notices.ts); their replies are written
  ConnectionClosed: 62, // worker→process, one-way: [connection]; the worker let go of it
  Drain: 63, // process→worker: ["on" | "off"] → Result [notices written] once new direct calls are refused (or taken again)
  StorageFree: 64, // process→worker, one-way: [bytes]; what state and mailbox may still take
  NoticesWaiting: 65, // worker→process, one-way: call notices wait on the notice socket (sent once until NoticesRead)
  NoticesRead: 66, // process→worker: [] → Result [notices written]; the worker wakes the process again for the next one
  Retire: 67, // worker→process, one-way: [what changed, function]; a function changed the worker's built-ins: replace the worker
} as const;

export type FrameType = (typeof FrameType)[keyof typeof FrameType];

const knownTypes: ReadonlySet<number> = new Set(Object.values(FrameType));

export function isFrameType(value: number): value is FrameType {
  return knownTypes.has(value);
}

export function frameTypeName(type: number): string {
  const entry = Object.entries(FrameType).find(([, value]) => value === type);
  return entry ? entry[0] : `unknown(${type})`;
}

export interface Frame {
  type: FrameType;
  id: number;
  meta: Buffer;
  payload: Buffer;
}

export interface FrameHeader {
  type: FrameType;
  id: number;
  metaLength: number;
  payloadLength: number;
}

const EMPTY = Buffer.alloc(0);

/** Payloads up to this size are copied next to the header so the frame is a single buffer. */
const INLINE_PAYLOAD_BYTES = 16 * 1024;

export function writeHeader(target: Buffer, header: FrameHeader, offset = 0): void {
  target[offset] = FRAME_MAGIC;
  target[offset + 1] = header.type;
  target.writeUInt16LE(header.metaLength, offset + 2);
  target.writeUInt32LE(header.id >>> 0, offset + 4);
  target.writeUInt32LE(header.payloadLength, offset + 8);
}

/**
 * Encodes a frame as one buffer when small, or as [header+meta, payload] so a large payload is
 * handed to the socket without a copy.
 */
export function encodeFrame(
  type: FrameType,
  id: number,
  meta: Uint8Array = EMPTY,
  payload: Uint8Array = EMPTY,
): Buffer[] {
  const inline = payload.length <= INLINE_PAYLOAD_BYTES;
  const headLength = HEADER_BYTES + meta.length + (inline ? payload.length : 0);
  const head = Buffer.allocUnsafe(headLength);
  writeHeader(head, { type, id, metaLength: meta.length, payloadLength: payload.length });
  head.set(meta, HEADER_BYTES);
  if (inline) {
    head.set(payload, HEADER_BYTES + meta.length);
    return [head];
  }
  return [head, asBuffer(payload)];
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}
