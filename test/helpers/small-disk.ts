/**
 * A real, small, full-able disk: a tmpfs of a few MiB mounted on a temp directory (the tests
 * run as root). Swap tests fill it to see what a full disk does to a swap-out.
 */
import { execFileSync } from "node:child_process";
import { closeSync, openSync, truncateSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

export interface SmallDisk {
  root: string;
  unmount(): Promise<void>;
}

export async function mountSmallDisk(prefix: string, sizeMiB: number): Promise<SmallDisk> {
  const root = await mkdtemp(path.join(tmpdir(), `praas-${prefix}-`));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", root], {
      stdio: "pipe",
    });
  } catch (error) {
    await rm(root, { recursive: true, force: true });
    throw new Error(
      `this test needs a real full disk: mounting a ${sizeMiB} MiB tmpfs on ${root} failed ` +
        `(run it as root, or in a container allowed to mount): ${String(error)}`,
    );
  }
  return {
    root,
    unmount: async () => {
      execFileSync("umount", ["-l", root], { stdio: "pipe" });
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * Fills the disk under `dir` to the last byte with one file, then frees `roomBytes` of it
 * again; returns the file's path (remove it to give the room back).
 */
export function fillDisk(dir: string, roomBytes = 0): string {
  const file = path.join(dir, "filler");
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  let written = 0;
  try {
    for (;;) written += writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
  } finally {
    closeSync(fd);
  }
  if (roomBytes > 0) truncateSync(file, Math.max(0, written - roomBytes));
  return file;
}
