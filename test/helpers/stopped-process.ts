/** For tests that show what keeps working while a cloud process itself (not its workers) is stopped. */

/** `promise`, or a rejection once `ms` passed without it settling. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, bound]).finally(() => clearTimeout(timer));
}

/** Runs `body` while the process `pid` is stopped (SIGSTOP), and lets it go on afterwards. */
export async function whileStopped<T>(pid: number, body: () => Promise<T>): Promise<T> {
  process.kill(pid, "SIGSTOP");
  try {
    return await body();
  } finally {
    process.kill(pid, "SIGCONT");
  }
}
