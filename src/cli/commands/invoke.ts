/** `praas invoke APP FN [--process P] [--data STRING|@FILE|@-]`: a control-plane invocation. */
import type { Command } from "commander";

import { addClientOptions, withClient, type CliEnv, type ClientFlags } from "../client-options.js";
import { printJson } from "../output.js";
import { readPayload } from "../payload.js";
import type { InvocationResult } from "../../sdk/client.js";

interface InvokeFlags extends ClientFlags {
  process?: string;
  data?: string;
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

/** Raw bytes, unchanged, for pipes and files; a final newline only for a terminal's sake. */
function writeRaw(output: Uint8Array): Promise<void> {
  const endsWithNewline = output.at(-1) === 0x0a;
  const suffix = process.stdout.isTTY && output.length > 0 && !endsWithNewline ? "\n" : "";
  return new Promise((resolve, reject) => {
    process.stdout.write(Buffer.concat([output, Buffer.from(suffix)]), (error) =>
      error ? reject(error) : resolve(),
    );
  });
}

async function invoke(app: string, fn: string, flags: InvokeFlags, env: CliEnv): Promise<void> {
  const payload = await readPayload(flags.data, process.stdin);
  const options = flags.process === undefined ? {} : { process: flags.process };
  const result = await withClient(flags, env, (client) =>
    client.invokeDetailed(app, fn, payload, options),
  );
  if (flags.json === true) printJson(jsonOutput(result));
  else await writeRaw(result.output);
}

export function registerInvoke(program: Command, env: CliEnv): void {
  const command = program
    .command("invoke")
    .description("invoke a function through the control plane; writes its raw output to stdout")
    .argument("<app>", "application name")
    .argument("<fn>", "function name")
    .option("--process <name>", "run in this process (resumed first if swapped)")
    .option("--data <payload>", "payload: a string, @FILE for a file's bytes, @- for stdin");
  addClientOptions(command).action((app: string, fn: string, flags: InvokeFlags) =>
    invoke(app, fn, flags, env),
  );
}
