/**
 * A raw TCP echo client with many messages in flight on one connection (the throughput
 * baseline). The echo server answers in order, so replies are matched first in, first out.
 */
import net from "node:net";

export class PipelinedEchoClient {
  readonly #socket: net.Socket;
  readonly #waiting: (() => void)[] = [];
  #buffered: Buffer = Buffer.alloc(0);
  #corked = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
  }

  static connect(port: number): Promise<PipelinedEchoClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
      socket.once("connect", () => resolve(new PipelinedEchoClient(socket)));
      socket.once("error", reject);
    });
  }

  /** Sends one length-prefixed message; resolves when its echo is back. */
  echo(payload: Buffer): Promise<void> {
    const head = Buffer.allocUnsafe(4);
    head.writeUInt32LE(payload.length);
    const done = new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#cork();
    this.#socket.write(Buffer.concat([head, payload]));
    return done;
  }

  close(): void {
    this.#socket.destroy();
  }

  /** Messages sent in the same tick leave in one system call, as the SDK's do. */
  #cork(): void {
    if (this.#corked) return;
    this.#corked = true;
    this.#socket.cork();
    process.nextTick(() => {
      this.#corked = false;
      this.#socket.uncork();
    });
  }

  #onData(chunk: Buffer): void {
    let data = this.#buffered.length === 0 ? chunk : Buffer.concat([this.#buffered, chunk]);
    while (data.length >= 4) {
      const size = data.readUInt32LE(0) + 4;
      if (data.length < size) break;
      data = data.subarray(size);
      this.#waiting.shift()?.();
    }
    this.#buffered = data;
  }
}
