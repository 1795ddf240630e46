/** The cold-start baseline's child: a TCP server that prints its port and echoes one byte back. */
import net from "node:net";

const server = net.createServer((socket) => {
  socket.on("data", (chunk: Buffer) => socket.write(chunk));
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});
