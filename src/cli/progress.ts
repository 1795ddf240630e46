/**
 * A spinner on stderr while a slow operation runs (deploy, process start, swap). Only on a
 * terminal: in pipes and logs it would be noise, and stdout stays clean for results.
 */
const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const FRAME_MS = 80;
const CLEAR_LINE = "\r\x1b[2K";

function elapsed(startedAt: number): string {
  const seconds = Math.floor((Date.now() - startedAt) / 1000);
  return seconds > 0 ? ` (${seconds}s)` : "";
}

/** Runs `task`, showing `label` with a spinner meanwhile when stderr is a terminal. */
export async function withProgress<T>(label: string, task: () => Promise<T>): Promise<T> {
  const stream = process.stderr;
  if (!stream.isTTY) return task();
  const startedAt = Date.now();
  let frame = 0;
  const draw = () => {
    stream.write(
      `${CLEAR_LINE}${FRAMES[frame % FRAMES.length] ?? ""} ${label}${elapsed(startedAt)}`,
    );
    frame += 1;
  };
  draw();
  const timer = setInterval(draw, FRAME_MS);
  try {
    return await task();
  } finally {
    clearInterval(timer);
    stream.write(CLEAR_LINE);
  }
}
