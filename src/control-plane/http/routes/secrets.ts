/**
 * Application secrets: `PUT /apps/:app/secrets/:key` (the body is the value, as text),
 * `DELETE` of the same path, `GET /apps/:app/secrets` (names only: a value is never returned).
 * Setting or removing one makes a new version of the application, like a deploy.
 */
import type { FastifyInstance, FastifyPluginCallback } from "fastify";
import { PraaSError } from "../../../protocol/index.js";
import type { ControlPlaneService } from "../../service.js";
import { acceptRawBodies, bodyBytes, documentRawBody } from "../raw-body.js";
import { appParams, errorResponses, ref } from "../schemas.js";

/** A value is one environment variable: bounded far below the API's body limit. */
const SECRET_BODY_LIMIT = 64 * 1024;

const secretParams = {
  type: "object",
  properties: {
    app: appParams.properties.app,
    key: { type: "string", description: "the environment variable name" },
  },
} as const;

const setSchema = {
  summary: "Set a secret (the body is its value); makes a new version",
  tags: ["apps"],
  params: secretParams,
  response: { 200: ref("AppInfo"), ...errorResponses },
};

const deleteSchema = {
  summary: "Remove a secret; makes a new version",
  tags: ["apps"],
  params: secretParams,
  response: { 200: ref("AppInfo"), ...errorResponses },
};

const listSchema = {
  summary: "Names of the application's secrets (never their values)",
  tags: ["apps"],
  params: appParams,
  response: {
    200: {
      type: "object",
      required: ["secrets"],
      properties: { secrets: { type: "array", items: { type: "string" } } },
    },
    ...errorResponses,
  },
};

interface SecretRoute {
  Params: { app: string; key: string };
}

/** The body as the secret's value: UTF-8 text, or BAD_REQUEST. */
function secretValue(body: unknown): string {
  const bytes = bodyBytes(body);
  const text = new TextDecoder("utf-8", { fatal: true });
  try {
    return text.decode(bytes);
  } catch {
    throw new PraaSError("BAD_REQUEST", "a secret's value must be UTF-8 text");
  }
}

export function secretRoutes(service: ControlPlaneService): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    acceptRawBodies(app, "*", SECRET_BODY_LIMIT);
    const config = { swaggerTransform: documentRawBody(["text/plain"]) };
    const path = "/apps/:app/secrets/:key";
    app.get<{ Params: { app: string } }>(
      "/apps/:app/secrets",
      { schema: listSchema },
      async (r) => ({
        secrets: await service.secretNames(r.params.app),
      }),
    );
    app.put<SecretRoute>(path, { schema: setSchema, config, bodyLimit: SECRET_BODY_LIMIT }, (r) =>
      service.setSecret(r.params.app, r.params.key, secretValue(r.body)),
    );
    app.delete<SecretRoute>(path, { schema: deleteSchema }, (r) =>
      service.setSecret(r.params.app, r.params.key, undefined),
    );
    done();
  };
}
