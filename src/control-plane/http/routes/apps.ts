/** Applications: deploy (a gzip tarball of the app directory), list, describe, delete. */
import type { FastifyInstance, FastifyPluginCallback } from "fastify";
import type { ControlPlaneService } from "../../service.js";
import { PraaSError } from "../../../protocol/index.js";
import { acceptRawBodies, documentRawBody } from "../raw-body.js";
import { appParams, deletedResponse, errorResponses, ref } from "../schemas.js";

const TARBALL_TYPES = ["application/gzip", "application/x-gzip", "application/octet-stream"];

interface AppRoute {
  Params: { app: string };
}

interface DeleteAppRoute extends AppRoute {
  Querystring: { force?: "true" | "false" };
}

const deploySchema = {
  summary: "Create or update an application from a gzip tarball of its directory",
  tags: ["apps"],
  params: appParams,
  response: { 200: ref("AppInfo"), ...errorResponses },
};

const listSchema = {
  summary: "List applications",
  tags: ["apps"],
  response: {
    200: {
      type: "object",
      required: ["apps"],
      properties: { apps: { type: "array", items: ref("AppInfo") } },
    },
    ...errorResponses,
  },
};

const getSchema = {
  summary: "Describe an application",
  tags: ["apps"],
  params: appParams,
  response: { 200: ref("AppInfo"), ...errorResponses },
};

const deleteSchema = {
  summary: "Delete an application (refused while processes exist, unless force=true)",
  tags: ["apps"],
  params: appParams,
  // Query values are strings: there is no type coercion (see server.ts), so say so.
  querystring: {
    type: "object",
    properties: { force: { type: "string", enum: ["true", "false"] } },
  },
  response: { 200: deletedResponse("application"), ...errorResponses },
};

function tarballOf(body: unknown): Buffer {
  if (Buffer.isBuffer(body) && body.length > 0) return body;
  throw new PraaSError("BAD_REQUEST", "the body must be a gzip tarball of the app directory");
}

export function appRoutes(service: ControlPlaneService, bodyLimit: number): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    acceptRawBodies(app, TARBALL_TYPES, bodyLimit);
    const config = { swaggerTransform: documentRawBody(TARBALL_TYPES) };

    app.put<AppRoute>("/apps/:app", { bodyLimit, config, schema: deploySchema }, (request) =>
      service.deployApp(request.params.app, tarballOf(request.body)),
    );
    app.get("/apps", { schema: listSchema }, async () => ({ apps: await service.listApps() }));
    app.get<AppRoute>("/apps/:app", { schema: getSchema }, (request) =>
      service.getApp(request.params.app),
    );
    app.delete<DeleteAppRoute>("/apps/:app", { schema: deleteSchema }, async (request) => {
      const { app: name } = request.params;
      await service.deleteApp(name, request.query.force === "true");
      return { deleted: name };
    });
    done();
  };
}
