// A worker's own connections to peer processes (in-process): it keeps at most MAX_PEER_LINKS,
// closing the least recently used idle one, and dials a closed one again when it is used.
import net from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { FrameLink } from "../../src/transport/index.js";
import {
  MAX_PEER_LINKS,
  PeerLinks,
  type PeerLinkRequest,
} from "../../src/runtime/worker/peer-links.js";

const open = new Set<net.Socket>();
const server = net.createServer((socket) => {
  open.add(socket);
  socket.on("close", () => open.delete(socket));
  const link: FrameLink = new FrameLink(socket, {
    maxPayloadBytes: 1 << 20,
    onRequest: (frame) => link.reply(frame.id),
  });
});
afterAll(() => {
  for (const socket of open) socket.destroy();
  server.close();
});

async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within 5 s: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("a worker's peer connections", () => {
  it("keeps at most MAX_PEER_LINKS, closing the least recently used, and dials it again", async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const asked: string[] = [];
    const links: PeerLinks = new PeerLinks((request: PeerLinkRequest) => {
      asked.push(request.peer);
      const socket = net.connect(port, "127.0.0.1", () =>
        links.answered({ kind: "praas-peer", id: request.id, rest: "" }, socket),
      );
    }, 1 << 20);
    const put = (peer: string): Promise<boolean> => links.put("me", peer, "k", Buffer.from("v"));
    for (let i = 0; i < MAX_PEER_LINKS; i++) expect(await put(`p${i}`)).toBe(true);
    expect(await put("p0")).toBe(true); // p0 is now the most recently used: p1 the least
    expect(await put("extra")).toBe(true);
    await until(() => open.size === MAX_PEER_LINKS, "one connection closed");
    expect(asked).toHaveLength(MAX_PEER_LINKS + 1);
    expect(await put("p0")).toBe(true); // still open: not asked again
    expect(asked).toHaveLength(MAX_PEER_LINKS + 1);
    expect(await put("p1")).toBe(true); // the one closed: asked again
    expect(asked.at(-1)).toBe("p1");
    expect(asked).toHaveLength(MAX_PEER_LINKS + 2);
    for (const peer of new Set(asked)) links.moved(peer);
    await until(() => open.size === 0, "every connection closed");
  });
});
