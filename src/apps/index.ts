/** Applications: manifest, deploy-time build and load check, and tarball packaging. */
export {
  DEFAULT_ENTRIES,
  MANIFEST_FILE,
  findEntry,
  parseManifest,
  readManifest,
  type AppDefaults,
  type AppManifest,
} from "./manifest.js";
export {
  DEFAULT_LOAD_TIMEOUT_MS,
  buildApplication,
  type BuildOptions,
  type BuiltApp,
} from "./bundle.js";
export {
  DEFAULT_MAX_ENTRIES,
  packDirectory,
  unpackTarball,
  type UnpackOptions,
} from "./package.js";
