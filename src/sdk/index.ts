/** The PraaS client SDK (`praas/sdk`). */
export {
  ProcessConnection,
  connect,
  type ConnectionInfo,
  type ConnectOptions,
} from "./connection.js";
export { PraaSError, ERROR_CODES, type ErrorCode } from "../protocol/index.js";
