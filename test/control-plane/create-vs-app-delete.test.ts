// The narrow window of an application's delete racing a create: the delete removed the app
// record and listed the processes between the create's read of the app and its record's write,
// so only the create can see it (see src/control-plane/app-delete.ts).
import { describe, expect, it } from "vitest";
import { resolveControlPlaneConfig } from "../../src/control-plane/config.js";
import { createProcess, type CreateDeps } from "../../src/control-plane/processes/create.js";
import type { Launcher } from "../../src/control-plane/processes/launch.js";
import { Operations } from "../../src/control-plane/processes/operations.js";
import type { PraaSError } from "../../src/protocol/index.js";
import { MemoryMetadataStore, type ProcessRecord } from "../../src/storage/index.js";

const APP = "going";

/** A store on which the application's delete lands just before a create writes its record. */
class DeletedMeanwhile extends MemoryMetadataStore {
  override async createProcess(record: ProcessRecord): Promise<boolean> {
    await this.deleteApp(record.app);
    return super.createProcess(record);
  }
}

/** Whatever the create must not touch once it knows the application is gone. */
const untouchable = new Proxy(
  {},
  {
    get: (_target, key) => {
      throw new Error(`reached ${String(key)}`);
    },
  },
);

describe("a create racing its application's delete", () => {
  it("undoes its record and answers APP_NOT_FOUND when the app went before the record was written", async () => {
    const store = new DeletedMeanwhile();
    const now = Date.now();
    const bundleKey = `apps/${APP}/x.mjs`;
    await store.putApp({
      name: APP,
      version: 1,
      functions: ["hi"],
      bundleKey,
      defaults: {},
      createdAt: now,
      updatedAt: now,
    });
    const deps = {
      config: resolveControlPlaneConfig({}),
      store,
      blobs: untouchable,
      backend: untouchable,
      cluster: untouchable,
      log: untouchable,
    } as unknown as CreateDeps;
    const request = { app: APP, name: "late", body: {}, auto: true };
    const failed = await createProcess(
      deps,
      new Operations({ schedule: () => undefined }),
      untouchable as Launcher,
      request,
    ).catch((error: unknown) => error as PraaSError);
    expect((failed as PraaSError).code).toBe("APP_NOT_FOUND");
    expect(await store.getProcess(APP, "late")).toBeUndefined();
  });
});
