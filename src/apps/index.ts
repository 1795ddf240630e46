/** Applications: manifest, deploy-time build and load check, and tarball packaging. */
export {
  DEFAULT_ENTRIES,
  MANIFEST_FILE,
  APP_ENV_LIMITS,
  envEntryProblem,
  findEntry,
  parseAppEnv,
  parseManifest,
  parsePermissions,
  readManifest,
  type AppDefaults,
  type AppEnv,
  type AppManifest,
  type AppPermissions,
} from "./manifest.js";
export {
  DEFAULT_LOAD_TIMEOUT_MS,
  buildApplication,
  checkBundleLoads,
  type BuildOptions,
  type BuiltApp,
} from "./bundle.js";
export {
  DEFAULT_MAX_ENTRIES,
  packDirectory,
  unpackTarball,
  type UnpackOptions,
} from "./package.js";
