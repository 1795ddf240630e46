// Where containers reach the host when the daemon lists its bridge's subnet but no gateway.
import { describe, expect, it } from "vitest";
import { firstHost } from "../../src/backends/docker/client.js";

describe("the bridge gateway from a subnet", () => {
  it("is the subnet's first host", () => {
    expect(firstHost("172.17.0.0/16")).toBe("172.17.0.1");
    expect(firstHost("10.200.3.0/24")).toBe("10.200.3.1");
    expect(firstHost("192.168.77.130/25")).toBe("192.168.77.129");
  });

  it("is unknown for what is not an IPv4 subnet with room for hosts", () => {
    for (const subnet of [undefined, "", "fd00::/64", "172.17.0.0", "300.1.1.0/24", "10.0.0.0/31"])
      expect(firstHost(subnet)).toBeUndefined();
  });
});
