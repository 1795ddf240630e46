/** `praas invoke APP FN [--process P [--create]] [--data STRING|@FILE|@-]`: a control-plane invocation. */
import type { Command } from "commander";

import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { printJson } from "../output.js";
import { readPayload } from "../payload.js";
import type { InvocationResult } from "../../sdk/client.js";
import { PraaSError } from "../../protocol/index.js";

interface InvokeFlags extends ClientFlags {
  process?: string;
  create?: boolean;
  data?: string;
  raw?: boolean;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

// Binary output cannot go into JSON as text; base64 keeps it intact there.
function jsonOutput(result: InvocationResult): Record<string, string | undefined> {
  try {
    return { process: result.process, output: strictUtf8.decode(result.output) };
  } catch {
    return { process: result.process, outputBase64: Buffer.from(result.output).toString("base64") };
  }
}

function isText(output: Uint8Array): boolean {
  try {
    strictUtf8.decode(output);
    return true;
  } catch {
    return false;
  }
}

/**
 * Text output ends with a newline, like any command's; binary output is written unchanged
 * (a terminal still gets a newline after it). `--raw` writes the bytes exactly as returned.
 */
function needsNewline(output: Uint8Array, raw: boolean): boolean {
  if (raw || output.length === 0 || output.at(-1) === 0x0a) return false;
  return process.stdout.isTTY || isText(output);
}

function writeOutput(output: Uint8Array, raw: boolean): Promise<void> {
  const suffix = needsNewline(output, raw) ? "\n" : "";
  return new Promise((resolve, reject) => {
    process.stdout.write(Buffer.concat([output, Buffer.from(suffix)]), (error) =>
      error ? reject(error) : resolve(),
    );
  });
}

async function invoke(app: string, fn: string, flags: InvokeFlags, env: CliEnv): Promise<void> {
  const payload = await readPayload(flags.data, process.stdin);
  if (flags.create === true && flags.process === undefined)
    throw new PraaSError("BAD_REQUEST", "--create needs --process <name>");
  const options =
    flags.process === undefined ? {} : { process: flags.process, create: flags.create === true };
  const result = await withClient(flags, env, (client) =>
    client.invokeDetailed(app, fn, payload, options),
  );
  if (flags.json === true) printJson(jsonOutput(result));
  else await writeOutput(result.output, flags.raw === true);
}

export function registerInvoke(program: Command, env: CliEnv): void {
  const command = program
    .command("invoke")
    .description("invoke a function through the control plane; writes its output to stdout")
    .argument("<app>", "application name")
    .argument("<fn>", "function name")
    .option("--process <name>", "run in this process (resumed first if swapped)")
    .option("--create", "with --process: create the process when it does not exist")
    .option("--data <payload>", "payload: a string, @FILE for a file's bytes, @- for stdin")
    .option("--raw", "write the output bytes exactly (no newline added after text)");
  addClientOptions(command).action((app: string, fn: string, flags: InvokeFlags) =>
    invoke(app, fn, flags, env),
  );
}
