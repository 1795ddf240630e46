/**
 * `praas`: the types a PraaS function is written against, and the error type every part of
 * PraaS uses. The client SDK is `praas/sdk`.
 */
export type {
  AlarmOptions,
  Context,
  GetOptions,
  InvokeOptions,
  PraaSFunction,
  ProcessList,
  ProcessState,
  StateKey,
  Transaction,
  TransactionOptions,
  Value,
} from "./protocol/index.js";
export { PraaSError, ERROR_CODES, type ErrorCode, ANY, SELF } from "./protocol/index.js";
