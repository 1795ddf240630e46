// Two processes exchanging messages directly (no storage service in between), and calling
// each other's functions. Invoke `ping` on one process with {"peer": "<other>", "rounds": N}.
const text = (bytes) => new TextDecoder().decode(bytes);
const json = (bytes) => JSON.parse(text(bytes));

/** Answers `rounds` pings from any process with a pong to the sender. */
export async function serve(input, ctx) {
  const { rounds, from } = json(input);
  for (let i = 0; i < rounds; i++) {
    const ping = text(await ctx.get(from, `ping-${i}`, { timeoutMs: 10_000 }));
    await ctx.put(from, `pong-${i}`, ping.replace("ping", "pong"));
  }
  return `served ${rounds}`;
}

/** Starts `serve` on the peer, then plays `rounds` of ping-pong with it. */
export async function ping(input, ctx) {
  const { peer, rounds = 10 } = json(input);
  const served = ctx.invoke("serve", { rounds, from: ctx.processId }, { process: peer });
  served.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
  const started = performance.now();
  const replies = [];
  for (let i = 0; i < rounds; i++) {
    await ctx.put(peer, `ping-${i}`, `ping ${i}`);
    replies.push(text(await ctx.get(peer, `pong-${i}`, { timeoutMs: 10_000 })));
  }
  const elapsedMs = performance.now() - started;
  return {
    rounds,
    last: replies.at(-1),
    peerSays: text(await served),
    roundTripMs: elapsedMs / rounds,
  };
}

/** Who is here: this process and the application's view of its peers. */
export async function whoami(_input, ctx) {
  return { process: ctx.processId, peers: await ctx.processes() };
}
