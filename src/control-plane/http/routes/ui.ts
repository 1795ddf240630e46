/**
 * The dashboard's static files: `GET /ui` is its page, `GET /ui/<file>` its bundled assets
 * (built by `npm run build` into dist/ui, see scripts/build-ui.mjs). They hold no data and are
 * served without a token, so the page can load and then ask for one; every data call it makes
 * goes to the API and carries the token (auth.ts keeps /ui public, nothing else).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyPluginCallback, FastifyReply } from "fastify";
import { PraaSError } from "../../../protocol/index.js";

/** The paths auth.ts lets through without a token. */
export const UI_ROUTES = ["/ui", "/ui/", "/ui/:file"] as const;

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".map": "application/json",
  ".png": "image/png",
  ".svg": "image/svg+xml",
};

/**
 * The page may load only its own files and talk only to this origin: an injected script or a
 * log line that looks like markup can neither load code nor send data elsewhere. uPlot and
 * Preact set element styles from script, hence the inline styles.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'";

/** A flat file name of a known type: no separators, no "..", so nothing outside the folder. */
const FILE_NAME = /^[\w-]+(\.[\w-]+)*$/;

/**
 * dist/ui of this package, found from this module in dist/ (the built server) or in src/
 * (tests running the sources): the nearest folder above holding package.json.
 */
export function defaultUiDir(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) return path.join(from, "ui");
    dir = parent;
  }
  return path.join(dir, "dist", "ui");
}

export function uiRoutes(uiDir: string): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    const schema = { hide: true };
    app.get("/ui", { schema }, (_request, reply) => sendFile(reply, uiDir, "index.html"));
    app.get("/ui/", { schema }, (_request, reply) => sendFile(reply, uiDir, "index.html"));
    app.get<{ Params: { file: string } }>("/ui/:file", { schema }, (request, reply) =>
      sendFile(reply, uiDir, request.params.file),
    );
    done();
  };
}

async function sendFile(reply: FastifyReply, uiDir: string, file: string): Promise<FastifyReply> {
  const type = CONTENT_TYPES[path.extname(file)];
  if (!FILE_NAME.test(file) || type === undefined)
    throw new PraaSError("NOT_FOUND", `no dashboard file ${file}`);
  const body = await readFile(path.join(uiDir, file)).catch(() => {
    const hint = file === "index.html" ? " (the dashboard is not built: run npm run build)" : "";
    throw new PraaSError("NOT_FOUND", `no dashboard file ${file}${hint}`);
  });
  // The page is small and changes with every build: always revalidate rather than go stale.
  return reply
    .type(type)
    .header("cache-control", "no-cache")
    .header("content-security-policy", CONTENT_SECURITY_POLICY)
    .header("x-content-type-options", "nosniff")
    .send(body);
}
