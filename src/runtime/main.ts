#!/usr/bin/env node
/**
 * Entry of a cloud process (what a backend starts). The bundle is a file (`--bundle`), or, for
 * a process that has no copy on its disk (a container), fetched from the control plane by its
 * key (`--control` + `--bundle-key`, see bundle-fetch.ts). Reads flags and the secrets from the
 * environment (see process-main.ts), starts the process, and prints one JSON line on stdout
 * once it serves: {"event":"ready","host","port","token","functions"}. Logs go to stderr. Exit
 * codes: 0 after a clean stop or swap-out, 1 when start-up failed. A swap-out whose write fails
 * does not exit: the process stays active with its state.
 *
 * `--warm` (a warm-pool member): only what a slot needs at spawn (`--workers`, `--memory`,
 * `--max-payload`, `--allow`, `--log-level`; `--ahead` when it is started before anyone asked
 * for it, to rehearse meanwhile). It spawns its workers before anything else is loaded
 * (slot-spawn.ts), boots them (warm-slot.ts), prints {"event":"warm"}, and waits for one line
 * on stdin, its assignment: {"args": [...], "env": {...}}, exactly the command line and
 * environment a process started from scratch would get (launch.ts). From then on it is that
 * process. Stdin closing first (its pool is gone) or a signal discards the slot and exits 0.
 *
 * The rest of the runtime is imported only after that spawn: the workers boot while it loads.
 */
import { killOwnGroup } from "./proc-table.js";
import { beginWarmSlot } from "./slot-spawn.js";
import { killWorkerUser } from "./worker-sandbox.js";

process.on("exit", () => {
  killOwnGroup();
  killWorkerUser(process.pid);
});
// Whoever reads our status lines may be gone (a control plane killed while we booted): that is
// seen elsewhere (stdin closes, the control link drops), and must not crash a process.
process.stdout.on("error", () => undefined);

if (process.argv[2] === "--warm") {
  const early = beginWarmSlot(process.argv.slice(2));
  const { runWarm } = await import("./warm-main.js");
  await runWarm(early);
} else {
  const { runFromCommandLine } = await import("./process-main.js");
  await runFromCommandLine();
}
