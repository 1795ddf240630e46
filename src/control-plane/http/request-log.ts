/**
 * Per-request log lines at debug level: at info, a busy control plane (every invocation goes
 * through it) would log two lines per call. Failures of the response itself stay at error.
 */
import { LogController, type FastifyReply, type FastifyRequest } from "fastify";

export class DebugRequestLog extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, "incoming request");
  }

  override requestCompleted(
    error: Error | null | undefined,
    _request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const fields = { res: reply, responseTime: reply.elapsedTime };
    if (error) reply.log.error({ ...fields, err: error }, "request errored");
    else reply.log.debug(fields, "request completed");
  }
}
