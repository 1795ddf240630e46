/** `POST /apps/:app/rollback`: make an earlier version of an application current again. */
import type { FastifyInstance, FastifyPluginCallback } from "fastify";
import type { ControlPlaneService } from "../../service.js";
import type { RollbackBody } from "../../../protocol/index.js";
import { acceptJsonOrEmpty, defaultToEmptyObject } from "../json-body.js";
import { appParams, errorResponses, ref } from "../schemas.js";

const rollbackSchema = {
  summary: "Make an earlier version current again (default: the previous one), as a new version",
  tags: ["apps"],
  params: appParams,
  body: {
    type: "object",
    properties: { version: { type: "integer", minimum: 1 } },
    additionalProperties: false,
  },
  response: { 200: ref("AppInfo"), ...errorResponses },
};

interface RollbackRoute {
  Params: { app: string };
  Body: RollbackBody | undefined;
}

export function rollbackRoutes(service: ControlPlaneService): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    acceptJsonOrEmpty(app);
    app.post<RollbackRoute>(
      "/apps/:app/rollback",
      { schema: rollbackSchema, preValidation: defaultToEmptyObject },
      (request) => service.rollbackApp(request.params.app, request.body?.version),
    );
    done();
  };
}
