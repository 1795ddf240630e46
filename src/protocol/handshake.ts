/**
 * The versioned data-plane handshake: HELLO from the connecting side, WELCOME or ERROR back.
 * HELLO is `[praas, version, token, role, name, peerSecret?]`: processes dialling a peer add the
 * application's peer secret as a sixth field; clients send five fields, as they always did.
 */
import { PraaSError } from "./errors.js";
import { expectFields } from "./fields.js";
import { HELLO_MAGIC, PROTOCOL_VERSION } from "./frame.js";
import { parseSerializeFlag, serializeFlag, type SerializeSetting } from "./serialize.js";

export type PeerRole = "client" | "peer";

export interface Hello {
  version: number;
  token: string;
  role: PeerRole;
  /** For role "peer": the connecting process's name. */
  name: string;
  /** For role "peer": the application's peer secret ("" when absent). */
  peerSecret: string;
}

export function helloFields(
  hello: Omit<Hello, "version" | "peerSecret"> & { peerSecret?: string },
): string[] {
  const fields = [HELLO_MAGIC, String(PROTOCOL_VERSION), hello.token, hello.role, hello.name];
  if (hello.role === "peer") fields.push(hello.peerSecret ?? "");
  return fields;
}

export function parseHello(meta: Uint8Array): Hello {
  const [magic, version, token, role, name, peerSecret] = expectFields(meta, 5, "hello");
  if (magic !== HELLO_MAGIC) throw new PraaSError("PROTOCOL_ERROR", "not a PraaS client");
  if (version !== String(PROTOCOL_VERSION)) {
    throw new PraaSError(
      "PROTOCOL_ERROR",
      `unsupported protocol version ${version}; this process speaks ${PROTOCOL_VERSION}`,
    );
  }
  if (role !== "client" && role !== "peer") {
    throw new PraaSError("PROTOCOL_ERROR", `unknown role ${role}`);
  }
  return {
    version: PROTOCOL_VERSION,
    token: token ?? "",
    role,
    name: name ?? "",
    peerSecret: peerSecret ?? "",
  };
}

export interface Welcome {
  version: number;
  process: string;
  application: string;
  /**
   * How many workers serve connections to the process (1 when the process does not say): a
   * client may open as many connections to spread its calls, each served by another worker.
   */
  workers: number;
  /**
   * Functions that run one call at a time (praas.json "serialize"): a client sends their calls
   * on one of its connections, so they reach the process's input gate in the order made.
   */
  serialize: SerializeSetting;
}

export function welcomeFields(
  welcome: Pick<Welcome, "process" | "application"> & Partial<Welcome>,
): string[] {
  const fields = [String(PROTOCOL_VERSION), welcome.process, welcome.application];
  if (welcome.workers !== undefined)
    fields.push(String(welcome.workers), serializeFlag(welcome.serialize));
  return fields;
}

export function parseWelcome(meta: Uint8Array): Welcome {
  const [version, process, application, workers, serialize] = expectFields(meta, 3, "welcome");
  return {
    version: Number(version),
    process: process ?? "",
    application: application ?? "",
    workers: Math.max(1, Math.floor(Number(workers ?? "1")) || 1),
    serialize: serializedOf(serialize ?? ""),
  };
}

/** What a process says is serialized; a flag we cannot read counts as everything. */
function serializedOf(flag: string): SerializeSetting {
  try {
    return parseSerializeFlag(flag);
  } catch {
    return true;
  }
}
