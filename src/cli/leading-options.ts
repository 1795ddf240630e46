/**
 * The client options every command takes (`--url`, `--token`, `--ca`, `--json`), written
 * before the command (`praas --url U apps ls`), are moved after it, where the command reads
 * them: users write them either way. Only a run of them at the very start moves; anything else
 * there (`--help`, `--version`, a typo) stays for commander to answer.
 */
const WITH_VALUE: ReadonlySet<string> = new Set(["--url", "--token", "--ca"]);
const FLAGS: ReadonlySet<string> = new Set(["--json"]);

/** `args` without the node and script paths (process.argv.slice(2)). */
export function moveLeadingClientOptions(args: readonly string[]): string[] {
  const leading = leadingClientOptions(args);
  if (leading === 0) return [...args];
  const moved = args.slice(0, leading);
  const rest = args.slice(leading);
  const end = rest.indexOf("--");
  if (end === -1) return [...rest, ...moved];
  return [...rest.slice(0, end), ...moved, ...rest.slice(end)];
}

/** How many of the first arguments are client options and their values. */
function leadingClientOptions(args: readonly string[]): number {
  let at = 0;
  for (;;) {
    const arg = args[at] ?? "";
    const taken = FLAGS.has(arg) || WITH_VALUE.has(arg.split("=")[0] ?? "") ? width(arg) : 0;
    if (taken === 0 || at + taken > args.length) return at;
    at += taken;
  }
}

/** `--url U` is two arguments, `--url=U` and `--json` one. */
function width(arg: string): number {
  return FLAGS.has(arg) || arg.includes("=") ? 1 : 2;
}
