// Redis from inside a function: one cached client per URL and worker, and the paper's polling
// read (the baseline has no push notification, so the reader polls).
import { Redis } from "ioredis";

const clients = new Map<string, Redis>();

/** A connected client for `url`, reused by later invocations in this worker. */
export async function redisAt(url: string): Promise<Redis> {
  let client = clients.get(url);
  if (client === undefined) {
    client = new Redis(url, { lazyConnect: true });
    await client.connect();
    clients.set(url, client);
  }
  return client;
}

/**
 * Polls `GETDEL key` until the value is there. Backoff between misses: the first retry is
 * immediate (setImmediate), later ones sleep 1 ms. The paper sleeps `retries` ms (linear), which
 * is slower; this is the kinder variant. GETDEL (one command, like GET) keeps Redis memory flat.
 */
export async function pollTake(redis: Redis, key: string): Promise<Buffer> {
  for (let misses = 0; ; misses++) {
    const value = await redis.getdelBuffer(key);
    if (value !== null) return value;
    await (misses === 0 ? immediate() : sleep(1));
  }
}

function immediate(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
