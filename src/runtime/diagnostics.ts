/**
 * The one part of this process's environment that reaches the processes it starts. Cloud
 * processes get a scrubbed environment (the control plane's may hold credentials), but Node's
 * own diagnostic settings carry no secrets and the tools that measure the platform rely on
 * them reaching every process (the test suite's coverage of code that runs in cloud
 * processes). Workers cannot use them: Node ignores them under the permission model.
 */
const PASSED_ON = ["NODE_V8_COVERAGE"] as const;

export function diagnosticEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of PASSED_ON) {
    const value = process.env[name];
    if (value) env[name] = value;
  }
  return env;
}
