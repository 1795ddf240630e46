// Hand-made tarballs for the unpack tests: `tar.create` refuses to write hostile entries.
import { gzipSync } from "node:zlib";

import { Header, type HeaderData } from "tar";

export interface RawEntry {
  path: string;
  type?: HeaderData["type"];
  body?: string;
  linkpath?: string;
}

const BLOCK = 512;

function padded(bytes: Buffer): Buffer {
  const size = Math.ceil(bytes.length / BLOCK) * BLOCK;
  return Buffer.concat([bytes, Buffer.alloc(size - bytes.length)]);
}

function encodeEntry(entry: RawEntry): Buffer {
  const body = Buffer.from(entry.body ?? "");
  const header = new Header({
    path: entry.path,
    type: entry.type ?? "File",
    size: body.length,
    mode: entry.type === "Directory" ? 0o755 : 0o644,
    mtime: new Date(0),
    ...(entry.linkpath === undefined ? {} : { linkpath: entry.linkpath }),
  });
  const block = Buffer.alloc(BLOCK);
  header.encode(block, 0);
  return Buffer.concat([block, padded(body)]);
}

/** A gzip tarball holding exactly `entries`, unchecked. */
export function rawTarball(entries: RawEntry[]): Buffer {
  const end = Buffer.alloc(2 * BLOCK);
  return gzipSync(Buffer.concat([...entries.map(encodeEntry), end]));
}

/** A symbolic-link entry `path -> target`. */
export function symlinkEntry(path: string, target: string): RawEntry {
  return { path, type: "SymbolicLink", linkpath: target };
}
