/**
 * What an application's workers may do, and the environment they see. Declared in `praas.json`
 * (validated in src/apps/manifest.ts), stored with the application, handed to every process.
 */
import { PraaSError } from "./errors.js";

/**
 * Capabilities workers lack unless the application asks: spawning programs, starting worker
 * threads, and the network (when the platform runs as root, workers otherwise run in a network
 * namespace with no usable interface).
 */
export interface AppPermissions {
  childProcess: boolean;
  workerThreads: boolean;
  network: boolean;
}

/** The environment functions see: exactly these variables (plus TMPDIR, set by the platform). */
export type AppEnv = Record<string, string>;

export const NO_PERMISSIONS: Readonly<AppPermissions> = Object.freeze({
  childProcess: false,
  workerThreads: false,
  network: false,
});

/**
 * The permissions a comma-separated list names (a runtime's `--allow` flag: `network,childProcess`);
 * BAD_REQUEST for a name that is not a permission.
 */
export function parsePermissionList(list: string): AppPermissions {
  const permissions = { ...NO_PERMISSIONS };
  for (const name of list.split(",").filter((item) => item !== "")) {
    if (!Object.hasOwn(permissions, name))
      throw new PraaSError("BAD_REQUEST", `unknown permission ${name}`);
    permissions[name as keyof AppPermissions] = true;
  }
  return permissions;
}
