/** The protocol module: frames, codecs, names, errors and shared types. No I/O. */
export * from "./errors.js";
export * from "./fields.js";
export * from "./frame.js";
export * from "./parser.js";
export * from "./values.js";
export * from "./names.js";
export * from "./handshake.js";
export * from "./secrets.js";
export * from "./permissions.js";
export type * from "./context.js";
export * from "./api.js";
export * from "./control.js";
export * from "./integers.js";
export * from "./limits.js";
export * from "./transaction.js";
export * from "./serialize.js";
export * from "./rendezvous.js";
export * from "./logs.js";
