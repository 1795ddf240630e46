/**
 * A real, small, full-able disk: a tmpfs of a few MiB mounted on a temp directory (the tests
 * run as root). Swap tests fill it to see what a full disk does to a swap-out.
 */
import { execFileSync } from "node:child_process";
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
