/**
 * The process's record of what its functions wrote: `Log` frames from workers (console.*,
 * tagged with the invocation) and raw lines from the workers' stdout/stderr pipes (untagged),
 * kept in a bounded ring until the control plane has them. Sizes: {@link PROCESS_LOG_LIMITS}.
 */
import {
  LOG_LEVELS,
  decodeFields,
  truncateLogMessage,
  type Frame,
  type LogLevelName,
  type LogRecord,
  type LogStream,
} from "../protocol/index.js";
import { LogRing, type RingLimits } from "./log-ring.js";

/** Per process: 2 000 records or 1 MiB, whichever is reached first. */
export const PROCESS_LOG_LIMITS: RingLimits = { maxRecords: 2_000, maxBytes: 1024 * 1024 };

export class FunctionLogs {
  readonly ring: LogRing;
  #listeners: (() => void)[] = [];

  constructor(
    readonly app: string,
    readonly process: string,
    limits: RingLimits = PROCESS_LOG_LIMITS,
  ) {
    this.ring = new LogRing(limits);
  }

  /** Calls `listener` after each append (the forwarder schedules a flush). */
  onAppend(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** A worker's `Log` frame: [level, stream, function, invocationId] + the line. */
  fromFrame(frame: Frame): void {
    const [level = "info", stream = "stdout", fn = "", id = ""] = decodeFields(frame.meta);
    const message = frame.payload.toString("utf8");
    this.add(asLevel(level), stream === "stderr" ? "stderr" : "stdout", message, fn, id);
  }

  add(level: LogLevelName, stream: LogStream, message: string, fn = "", id = ""): void {
    const { app, process } = this;
    const record: LogRecord = { time: Date.now(), level, stream, app, process, message: "" };
    if (fn !== "") record.function = fn;
    if (id !== "") record.invocationId = id;
    record.message = truncateLogMessage(message);
    this.ring.append(record);
    for (const listener of this.#listeners) listener();
  }

  /** A sink for one worker pipe: splits the bytes into lines (a partial line waits for its end). */
  pipe(stream: "stdout" | "stderr"): (chunk: Buffer) => void {
    let partial = "";
    const level: LogLevelName = stream === "stderr" ? "error" : "info";
    return (chunk) => {
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = truncateLogMessage(lines.pop() ?? "");
      for (const line of lines) this.add(level, stream, line);
    };
  }
}

function asLevel(value: string): LogLevelName {
  return (LOG_LEVELS as readonly string[]).includes(value) ? (value as LogLevelName) : "info";
}
