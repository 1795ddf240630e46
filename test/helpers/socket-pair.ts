// Two ends of a real loopback TCP connection, for in-process tests of the two sides of a link.
import net from "node:net";

/** Connected sockets [near, far]; `closers` gets what destroys both. */
export async function socketPair(closers: (() => void)[]): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const near = net.connect(port, "127.0.0.1");
  const far = await accepted;
  server.close();
  closers.push(() => {
    near.destroy();
    far.destroy();
  });
  return [near, far];
}
