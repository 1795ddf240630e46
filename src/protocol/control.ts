/**
 * The control link's commands (control plane → process): one map from each command to its
 * JSON body and its JSON reply, used by both ends so neither casts what the other sends.
 * (Requests the other way, process → control plane, are Command frames named by their first
 * field: "resume", "swapped" and "idle", see runtime/control-link.ts.)
 */
import type {
  ConnectionCounts,
  ConnectionInfo,
  ProcessStateInfo,
  RendezvousAddress,
} from "./api.js";

/** One entry of a process's peer directory. */
export interface PeerEntry {
  name: string;
  status: "active" | "swapped";
  /** Present while active. */
  address?: ConnectionInfo | undefined;
}

/** What changed in a peer directory since the last push: entries to set, names to drop. */
export interface PeerChanges {
  changed: PeerEntry[];
  removed: string[];
}

/** What a swap-out stored. */
export interface SwapReply {
  /** Bytes written to the blob store. */
  size: number;
  key: string;
  /** For a swap with `ifIdle`: when the process's last use ended (ms since the epoch). */
  idleSince?: number;
}

/** A swap's options: `ifIdle` (an idle swap-out) is refused with INVALID_STATE once used again. */
export interface SwapBody {
  /** Stored in the snapshot's head: the evidence that this swap completed if its reply is lost. */
  swapId?: string;
  ifIdle?: boolean;
}

export interface StatusReply {
  status: string;
  port: number;
  workers: number[];
  stateBytes: number;
  stateKeys: number;
  /** Open data-plane connections by path (absent from processes older than NAT traversal). */
  connections?: ConnectionCounts;
  /** Under durability "log": records appended, synced batch writes (fewer: group commit), bytes, compactions while serving. */
  wal?: { appends: number; syncs: number; bytes: number; compactions: number };
}

export interface ControlCommands {
  /**
   * Swap out (state to the blob store) and exit. `swapId` goes into the stored snapshot's head:
   * the evidence that this swap completed when its reply is lost.
   */
  swap: { body: SwapBody | undefined; reply: SwapReply };
  /** Stop without saving state and exit. */
  stop: { body: undefined; reply: null };
  /** Replace the peer directory (a list), or change some of its entries (PeerChanges). */
  peers: { body: PeerEntry[] | PeerChanges; reply: null };
  status: { body: undefined; reply: StatusReply };
  /** Join a pairing at the rendezvous as its listener; answered at once, paired in the background. */
  pair: { body: PairCommand; reply: null };
  /** The state's keys with their value sizes (no values), for the dashboard and `praas process state`. */
  state: { body: undefined; reply: ProcessStateInfo };
}

/** The listener's half of a pairing (the dialer's ticket went to the client or peer). */
export interface PairCommand {
  rendezvous: RendezvousAddress;
  ticket: string;
}

/** The reply to the process's `connect <peer>` request: where and how to pair with the peer. */
export interface PeerTicket {
  rendezvous: RendezvousAddress;
  ticket: string;
}

export type ControlCommand = keyof ControlCommands;
export type ControlBody<C extends ControlCommand> = ControlCommands[C]["body"];
export type ControlReply<C extends ControlCommand> = ControlCommands[C]["reply"];

export const CONTROL_COMMANDS: readonly ControlCommand[] = [
  "swap",
  "stop",
  "peers",
  "status",
  "pair",
  "state",
];

export function isControlCommand(name: string): name is ControlCommand {
  return (CONTROL_COMMANDS as readonly string[]).includes(name);
}

/**
 * A process started without its bundle on disk (a container: the runtime image serves every
 * application) fetches it before it serves, on a connection of its own to the control-link
 * port: first and only frame a Command with these fields, answered with the bundle's bytes as
 * the Result payload (UNAUTHORIZED for a wrong secret, BAD_REQUEST for a key of another
 * application, STORAGE_ERROR when the bundle is gone). It is not a registration: the process
 * registers, on its control link, only once it serves.
 */
export const BUNDLE_REQUEST = "bundle";

export interface BundleRequest {
  application: string;
  process: string;
  secret: string;
  /** The bundle's key in the blob store (`apps/<application>/<sha256>.mjs`). */
  key: string;
}

export function bundleRequestFields(request: BundleRequest): string[] {
  return [BUNDLE_REQUEST, request.application, request.process, request.secret, request.key];
}
