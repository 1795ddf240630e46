/** `--data STRING|@FILE|@-`: the invocation payload, read as raw bytes from a file or stdin. */
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";

import { PraaSError } from "../protocol/errors.js";

export async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

async function readPayloadFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new PraaSError("BAD_REQUEST", `cannot read payload file ${path}: ${reason}`);
  }
}

/** No `--data` is an empty payload; `@-` reads `stdin` to its end; `@path` reads the file. */
export async function readPayload(
  data: string | undefined,
  stdin: Readable,
): Promise<Uint8Array | string> {
  if (data === undefined) return new Uint8Array(0);
  if (!data.startsWith("@")) return data;
  const path = data.slice(1);
  if (path === "-") return readStream(stdin);
  if (path === "")
    throw new PraaSError("BAD_REQUEST", "--data @ needs a file name (or @- for stdin)");
  return readPayloadFile(path);
}
