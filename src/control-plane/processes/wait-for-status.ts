/** Waiting, over the store's change notices, for a process to reach a status. */
import { PraaSError, type ProcessStatus } from "../../protocol/index.js";
import type { MetadataStore, ProcessRecord } from "../../storage/index.js";

/**
 * Resolves when the process reaches one of `statuses`; rejects on timeout, when it fails (unless
 * `failed` is wanted) or vanishes, or when the store cannot be read. The timer and the
 * subscription end on every path.
 */
export async function waitForStatus(
  store: MetadataStore,
  app: string,
  name: string,
  statuses: ReadonlySet<ProcessStatus>,
  timeoutMs: number,
): Promise<ProcessRecord> {
  const wanted = [...statuses].join(" or ");
  let timer: NodeJS.Timeout | undefined;
  let subscription: Promise<() => Promise<void>> | undefined;
  try {
    return await new Promise<ProcessRecord>((resolve, reject) => {
      const check = (record: ProcessRecord | undefined): void => {
        if (record && statuses.has(record.status)) resolve(record);
        else if (!record || record.status === "failed" || record.status === "deleted") {
          const now = record?.status ?? "gone";
          reject(new PraaSError("INVALID_STATE", `process ${app}/${name} is ${now}`));
        }
      };
      timer = setTimeout(() => {
        reject(
          new PraaSError("TIMEOUT", `process ${app}/${name} not ${wanted} in ${timeoutMs} ms`),
        );
      }, timeoutMs);
      subscription = store.subscribe((change) => {
        if (change.app === app && change.name === name) check(change.record);
      });
      subscription.then(async () => check(await store.getProcess(app, name))).catch(reject);
    });
  } finally {
    clearTimeout(timer);
    await subscription?.then((off) => off()).catch(() => undefined);
  }
}
