/**
 * The baseline for direct invocation: a raw Node TCP echo server in its own process, speaking a
 * 4-byte length prefix, and a client that sends one message and waits for the whole echo.
 * No PraaS code on either side.
 */
import { fork, type ChildProcess } from "node:child_process";
import net from "node:net";
import { fileURLToPath } from "node:url";

export interface RawEchoServer {
  port: number;
  stop(): Promise<void>;
}

export async function startRawEchoServer(): Promise<RawEchoServer> {
  const child = fork(fileURLToPath(new URL("./raw-echo-server.js", import.meta.url)), [], {
    stdio: "inherit",
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once("message", (message) => resolve(Number(message)));
    child.once("exit", (code) => reject(new Error(`echo server exited (${code})`)));
  });
  return { port, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** A client with one outstanding echo at a time, like the SDK calls it is compared with. */
export class RawEchoClient {
  readonly #socket: net.Socket;
  #chunks: Buffer[] = [];
  #have = 0;
  #want = -1;
  #done: (() => void) | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
  }

  static connect(port: number): Promise<RawEchoClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
      socket.once("connect", () => resolve(new RawEchoClient(socket)));
      socket.once("error", reject);
    });
  }

  echo(payload: Buffer): Promise<void> {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(payload.length);
    this.#want = payload.length + 4;
    this.#have = 0;
    this.#chunks = [];
    const done = new Promise<void>((resolve) => (this.#done = resolve));
    this.#socket.cork();
    this.#socket.write(head);
    this.#socket.write(payload);
    this.#socket.uncork();
    return done;
  }

  close(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#chunks.push(chunk);
    this.#have += chunk.length;
    if (this.#have >= this.#want) {
      Buffer.concat(this.#chunks);
      this.#done?.();
    }
  }
}
