/** A raw TCP echo server (child process of the benchmark): 4-byte length prefix, echoed whole. */
import net from "node:net";

const server = net.createServer({ noDelay: true }, (socket) => {
  let chunks: Buffer[] = [];
  let have = 0;
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk);
    have += chunk.length;
    // Concatenate only once a whole message is here, so large echoes are copied once.
    // Echoes of one chunk leave in one system call (corked), as PraaS batches its replies.
    socket.cork();
    process.nextTick(() => socket.uncork());
    while (have >= 4) {
      if (chunks[0]!.length < 4) chunks = [Buffer.concat(chunks, have)];
      const size = chunks[0]!.readUInt32LE(0) + 4;
      if (have < size) return;
      const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, have);
      socket.write(all.subarray(0, size));
      chunks = have > size ? [all.subarray(size)] : [];
      have -= size;
    }
  });
  socket.on("error", () => socket.destroy());
});

server.listen(0, "127.0.0.1", () => {
  process.send?.((server.address() as net.AddressInfo).port);
});
process.on("SIGTERM", () => process.exit(0));
