import type { BlobBody } from "./blob-store.js";

/** Every body as a chunk stream, so stores have one write path for bytes and streams alike. */
export async function* bodyChunks(body: BlobBody): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    yield body;
    return;
  }
  yield* body;
}

/** Passes chunks through while counting them, so a put can report the stored size. */
export class ByteCounter {
  bytes = 0;

  async *count(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    for await (const chunk of chunks) {
      this.bytes += chunk.byteLength;
      yield chunk;
    }
  }
}

export async function collectBuffer(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return Buffer.concat(parts);
}
