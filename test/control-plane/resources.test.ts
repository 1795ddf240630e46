// Resource requests: the memory limit covers the whole process, so one too small to start is
// refused at create time with a clear message, not by a process that dies at start.
import { describe, expect, it } from "vitest";
import { resolveControlPlaneConfig } from "../../src/control-plane/config.js";
import { resolveResources } from "../../src/control-plane/resources.js";
import { PraaSError } from "../../src/protocol/index.js";

const config = resolveControlPlaneConfig({ port: 0 });

function expectBadRequest(work: () => unknown): void {
  expect(work).toThrow(PraaSError);
  expect(work).toThrow(/memory must be at least/);
}

describe("resolveResources", () => {
  it("takes the body, else the app's defaults, else the configured defaults", () => {
    expect(resolveResources({ vcpus: 2, memory: 300 }, {}, config)).toEqual({
      vcpus: 2,
      memory: 300,
    });
    expect(resolveResources({}, { memory: 200 }, config)).toEqual({ vcpus: 1, memory: 200 });
  });

  it("refuses a memory limit too small for the process and its workers to start", () => {
    expectBadRequest(() => resolveResources({ vcpus: 1, memory: 32 }, {}, config));
    expectBadRequest(() => resolveResources({ vcpus: 4, memory: 100 }, {}, config));
    expect(resolveResources({ vcpus: 4, memory: 128 }, {}, config).memory).toBe(128);
  });
});
