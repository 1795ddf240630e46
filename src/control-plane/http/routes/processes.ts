/** Processes of an application: create, list, describe, list state keys, swap out, resume, delete. */
import type { FastifyInstance, FastifyPluginCallback } from "fastify";
import type { ControlPlaneService } from "../../service.js";
import type { CreateProcessBody } from "../../../protocol/index.js";
import { acceptJsonOrEmpty, defaultToEmptyObject } from "../json-body.js";
import {
  appParams,
  deletedResponse,
  durabilitySchema,
  errorResponses,
  processParams,
  ref,
} from "../schemas.js";

interface ProcessRoute {
  Params: { app: string; proc: string };
}

interface CreateProcessRoute extends ProcessRoute {
  Body: CreateProcessBody;
}

const processResponse = { 200: ref("ProcessInfo"), ...errorResponses };

const createSchema = {
  summary: "Create a process; responds once it is active (409 if the name exists)",
  tags: ["processes"],
  params: processParams,
  body: {
    type: "object",
    properties: {
      vcpus: { type: "number", exclusiveMinimum: 0, description: "virtual CPUs" },
      memory: { type: "integer", exclusiveMinimum: 0, description: "MiB" },
      limits: ref("ProcessLimits"),
      durability: durabilitySchema,
      idleSwap: {
        anyOf: [{ type: "integer" }, { type: "string" }],
        description: 'swap out after this long unused: ms, or "10m", "30s"; 0: never',
      },
    },
    additionalProperties: false,
  },
  response: { 201: ref("ProcessInfo"), ...errorResponses },
};

const listSchema = {
  summary: "List the processes of an application, grouped by status",
  tags: ["processes"],
  params: appParams,
  response: { 200: ref("ProcessList"), ...errorResponses },
};

const processSchema = (summary: string) => ({
  summary,
  tags: ["processes"],
  params: processParams,
  response: processResponse,
});

const connectSchema = {
  summary:
    "A connection to dial now; for a process behind NAT with a fresh single-use pairing ticket",
  tags: ["processes"],
  params: processParams,
  response: { 200: ref("Connection"), ...errorResponses },
};

const stateKeySchema = {
  type: "object",
  properties: {
    key: { type: "string" },
    size: { type: "integer", description: "bytes of the value" },
    updatedAt: { type: "string", description: "ISO time of the last write" },
  },
  required: ["key", "size", "updatedAt"],
};

const stateSchema = {
  summary: "The state keys of an active process with their value sizes (values stay in it)",
  tags: ["processes"],
  params: processParams,
  response: {
    200: {
      type: "object",
      properties: {
        keys: { type: "array", items: stateKeySchema, description: "the first 1000 keys" },
        totalKeys: { type: "integer" },
        totalBytes: { type: "integer" },
      },
      required: ["keys", "totalKeys", "totalBytes"],
    },
    ...errorResponses,
  },
};

const deleteSchema = {
  summary: "Stop a process (if active) and delete its stored state",
  tags: ["processes"],
  params: processParams,
  response: { 200: deletedResponse("process"), ...errorResponses },
};

export function processRoutes(service: ControlPlaneService): FastifyPluginCallback {
  return (app: FastifyInstance, _options, done) => {
    acceptJsonOrEmpty(app);
    const base = "/apps/:app/processes/:proc";

    app.put<CreateProcessRoute>(
      base,
      { schema: createSchema, preValidation: defaultToEmptyObject },
      async (request, reply) => {
        const { app: appName, proc } = request.params;
        const info = await service.createProcess(appName, proc, request.body);
        return reply.code(201).send(info);
      },
    );
    // Sent as built: the schema stays for the OpenAPI document (the JSON is what it would make).
    app.get<{ Params: { app: string } }>(
      "/apps/:app/processes",
      { schema: listSchema },
      async (request, reply) => {
        const json = await service.listProcessesJson(request.params.app);
        return reply.type("application/json; charset=utf-8").send(json);
      },
    );
    app.get<ProcessRoute>(base, { schema: processSchema("Describe a process") }, (request) =>
      service.getProcess(request.params.app, request.params.proc),
    );
    app.post<ProcessRoute>(
      `${base}/swap`,
      { schema: processSchema("Swap a process out; responds once its state is stored") },
      (request) => service.swapProcess(request.params.app, request.params.proc),
    );
    app.post<ProcessRoute>(
      `${base}/resume`,
      { schema: processSchema("Swap a process in; responds once it is active again") },
      (request) => service.resumeProcess(request.params.app, request.params.proc),
    );
    app.post<ProcessRoute>(
      `${base}/upgrade`,
      {
        schema: processSchema(
          "Move an active process to the application's current version (swap out, resume)",
        ),
      },
      (request) => service.upgradeProcess(request.params.app, request.params.proc),
    );
    app.post<ProcessRoute>(`${base}/connect`, { schema: connectSchema }, (request) =>
      service.connectProcess(request.params.app, request.params.proc),
    );
    app.get<ProcessRoute>(`${base}/state`, { schema: stateSchema }, (request) =>
      service.processState(request.params.app, request.params.proc),
    );
    app.delete<ProcessRoute>(base, { schema: deleteSchema }, async (request) => {
      await service.deleteProcess(request.params.app, request.params.proc);
      return { deleted: request.params.proc };
    });
    done();
  };
}
