/**
 * Child-process script: imports a built application bundle and reports which of its exports
 * are functions. Run as `node load-check.js <bundle.mjs>` with an IPC channel by
 * {@link ../apps/bundle.ts}; user code runs here, never in the control plane.
 *
 * The result travels over IPC rather than stdout because user code may print while loading.
 * Message: `{ functions: string[] }` or `{ error: "Name: message" }`.
 */
import { pathToFileURL } from "node:url";

export type LoadCheckResult = { functions: string[] } | { error: string };

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `thrown value: ${String(error)}`;
}

// `default` is not callable by name, so only named function exports count.
function functionExports(module: Record<string, unknown>): string[] {
  return Object.keys(module)
    .filter((name) => name !== "default" && typeof module[name] === "function")
    .sort();
}

async function check(file: string): Promise<LoadCheckResult> {
  try {
    const module = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
    return { functions: functionExports(module) };
  } catch (error) {
    return { error: describe(error) };
  }
}

function report(result: LoadCheckResult): void {
  // Exit right after delivery: timers or sockets the module opened must not keep us alive.
  if (process.send) process.send(result, () => process.exit(0));
  else process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
}

const file = process.argv[2];
if (file === undefined) report({ error: "Error: usage: load-check <bundle file>" });
else report(await check(file));
