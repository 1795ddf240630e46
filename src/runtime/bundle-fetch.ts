/**
 * A process started without a bundle file (in a container: one runtime image serves every
 * application) fetches its bundle from the control plane over a short connection of its own
 * to the control-link port (BUNDLE_REQUEST in src/protocol/control.ts), writes it to a private
 * temp dir and runs from there. The bundle never reaches a container through a bind mount.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { FrameType, bundleRequestFields, encodeFields } from "../protocol/index.js";
import { FrameLink, openSocket } from "../transport/index.js";

const FETCH_TIMEOUT_MS = 30_000;
const MAX_BUNDLE_BYTES = 256 * 1024 * 1024;

export interface BundleSource {
  host: string;
  port: number;
  secret: string;
  application: string;
  process: string;
  key: string;
}

/** The bundle's bytes, as the control plane stores them under `source.key`. */
export async function fetchBundle(source: BundleSource): Promise<Buffer> {
  const socket = await openSocket(source.host, source.port, FETCH_TIMEOUT_MS);
  const link = new FrameLink(socket, { maxPayloadBytes: MAX_BUNDLE_BYTES, onRequest: () => {} });
  try {
    const fields = bundleRequestFields({ ...source });
    const reply = await link.request(
      FrameType.Command,
      encodeFields(fields),
      undefined,
      FETCH_TIMEOUT_MS,
    );
    return reply.payload;
  } finally {
    link.close();
  }
}

/** Fetches the bundle into a file that is removed when this process exits; returns its path. */
export async function fetchBundleFile(source: BundleSource): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), "praas-bundle-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, "bundle.mjs");
  await writeFile(file, await fetchBundle(source), { mode: 0o600 });
  return file;
}
