/**
 * The control plane's side of the control link for backend tests: a real ControlLinkServer
 * that knows the secrets and bundles of the processes the test starts, records registrations
 * and lost links, and builds the ProcessSpec a control plane would hand the backend.
 */
import { randomBytes } from "node:crypto";
import path from "node:path";
import { buildApplication } from "../../src/apps/index.js";
import type { ProcessSpec } from "../../src/backends/index.js";
import {
  ControlLinkServer,
  type Registration,
} from "../../src/control-plane/control-link-server.js";
import { createLogger } from "../../src/logging/index.js";
import { NO_PERMISSIONS, PraaSError } from "../../src/protocol/index.js";

export class ControlHarness {
  readonly registrations: Registration[] = [];
  readonly lost: string[] = [];
  readonly #secrets = new Map<string, string>();
  readonly #bundles = new Map<string, Buffer>();
  readonly #server: ControlLinkServer;
  #address = "";

  constructor() {
    this.#server = new ControlLinkServer(
      {
        secretOf: (app, name) => Promise.resolve(this.#secrets.get(`${app}/${name}`)),
        registered: (registration) => {
          this.registrations.push(registration);
          return Promise.resolve();
        },
        lost: (app, name) => void this.lost.push(`${app}/${name}`),
        resumeRequested: () => Promise.reject(new PraaSError("PROCESS_NOT_FOUND", "no peers")),
        swappedItself: () => Promise.resolve(),
        bundle: (_app, key) => this.#bundle(key),
        // No peer replicas here: nobody may forward commands.
        clusterSecret: () => Promise.resolve(randomBytes(16).toString("hex")),
      },
      createLogger("control-harness", "error"),
    );
  }

  /** Listens on `host` (where the backend's processes can reach it). */
  async listen(host: string): Promise<void> {
    this.#address = `${host}:${await this.#server.listen(host, 0)}`;
  }

  get links(): ControlLinkServer {
    return this.#server;
  }

  isRegistered(app: string, name: string): boolean {
    return this.registrations.some((r) => r.app === app && r.name === name);
  }

  /** Bundles a fixture application under test/fixtures/apps; returns its bundle key. */
  async addBundle(app: string, fixture: string): Promise<string> {
    const built = await buildApplication(path.resolve("test/fixtures/apps", fixture));
    const key = `apps/${app}/${fixture}.mjs`;
    this.#bundles.set(key, Buffer.from(built.code));
    return key;
  }

  /** Stores `code` as a bundle as is (no load check: e.g. one that throws when imported). */
  addCode(app: string, label: string, code: string): string {
    const key = `apps/${app}/${label}.mjs`;
    this.#bundles.set(key, Buffer.from(code));
    return key;
  }

  /** The spec a control plane would hand the backend for a new process `app/name`. */
  spec(app: string, name: string, bundleKey: string, more: Partial<ProcessSpec> = {}): ProcessSpec {
    const secret = randomBytes(16).toString("hex");
    this.#secrets.set(`${app}/${name}`, secret);
    return {
      app,
      name,
      bundleKey,
      loadBundle: () => this.#bundle(bundleKey),
      vcpus: 1,
      memoryMiB: 128,
      token: randomBytes(16).toString("hex"),
      secret,
      appEnv: {},
      permissions: { ...NO_PERMISSIONS },
      restore: false,
      controlAddress: this.#address,
      ...more,
    };
  }

  close(): Promise<void> {
    return this.#server.close();
  }

  #bundle(key: string): Promise<Buffer> {
    const bytes = this.#bundles.get(key);
    if (bytes === undefined) return Promise.reject(new PraaSError("STORAGE_ERROR", `no ${key}`));
    return Promise.resolve(bytes);
  }
}
