/** The `Context` a function receives inside a worker: every call is a request to the process. */
import {
  ANY,
  FrameType,
  PraaSError,
  SELF,
  assertKey,
  decodeFields,
  encodeFields,
  toBytes,
  type Context,
  type Frame,
  type GetOptions,
  type InvokeOptions,
  type ProcessList,
  type ProcessState,
  type StateKey,
  type Value,
} from "../../protocol/index.js";
import type { FrameLink } from "../../transport/index.js";

export interface InvocationInfo {
  invocationId: string;
  processId: string;
  application: string;
  functionName: string;
}

export function createContext(link: FrameLink, info: InvocationInfo): Context {
  const call = (type: FrameType, fields: string[], payload?: Uint8Array): Promise<Frame> =>
    link.request(type, encodeFields(fields), payload);
  return {
    ...info,
    state: createState(call),
    put: async (destination, key, value) => {
      checkPeer(destination, "destination", false);
      assertKey(key);
      await call(FrameType.MailPut, [destination, key], toBytes(value));
    },
    get: async (source, key, options?: GetOptions) => {
      checkPeer(source, "source", true);
      assertKey(key);
      const timeout = options?.timeoutMs === undefined ? "" : String(options.timeoutMs);
      return (await call(FrameType.MailGet, [source, key, timeout])).payload;
    },
    invoke: async (functionName, payload?: Value, options?: InvokeOptions) => {
      const reply = await call(
        FrameType.Call,
        [functionName, options?.process ?? ""],
        toBytes(payload),
      );
      return reply.payload;
    },
    processes: async () => parseJson<ProcessList>((await call(FrameType.Processes, [])).payload),
  };
}

type Call = (type: FrameType, fields: string[], payload?: Uint8Array) => Promise<Frame>;

function createState(call: Call): ProcessState {
  return {
    get: async (key) => {
      assertKey(key);
      const reply = await call(FrameType.StateGet, [key]);
      return decodeFields(reply.meta)[0] === "absent" ? undefined : reply.payload;
    },
    put: async (key, value: Value) => {
      assertKey(key);
      await call(FrameType.StatePut, [key], toBytes(value));
    },
    delete: async (key) => {
      assertKey(key);
      return decodeFields((await call(FrameType.StateDelete, [key])).meta)[0] === "deleted";
    },
    keys: async () => parseJson<StateKey[]>((await call(FrameType.StateKeys, [])).payload),
  };
}

function checkPeer(name: unknown, what: string, allowAny: boolean): void {
  if (typeof name !== "string" || name.length === 0 || (!allowAny && name === ANY)) {
    throw new PraaSError(
      "BAD_REQUEST",
      `${what} must be a process name or ${SELF}${allowAny ? ` or ${ANY}` : ""}`,
    );
  }
}

function parseJson<T>(bytes: Uint8Array): T {
  return JSON.parse(Buffer.from(bytes).toString("utf8")) as T;
}
