/**
 * Development TLS material, the role `trustme` had for the prototype: a throwaway CA and a
 * server certificate it signed for the local names plus any extra hosts. Clients trust the CA
 * (`--ca ca.pem`), so nothing is added to the system's trust store.
 */
import { isIP } from "node:net";

import { generate } from "selfsigned";

import { PraaSError } from "../protocol/errors.js";

export const DEFAULT_HOSTS = ["localhost", "127.0.0.1", "::1"];

const CA_YEARS = 10;
// Below the 825-day cap some TLS clients put on server certificates.
const SERVER_DAYS = 820;
const DNS_NAME =
  /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

export interface DevCertificates {
  /** The CA certificate (PEM) clients pass as `ca`. */
  ca: string;
  /** The server certificate (PEM), signed by the CA. */
  cert: string;
  /** The server's private key (PEM). */
  key: string;
  /** The names and addresses the server certificate is valid for. */
  hosts: string[];
}

function addDays(days: number): Date {
  return new Date(Date.now() + days * 86_400_000);
}

function assertHost(host: string): void {
  if (isIP(host) === 0 && !DNS_NAME.test(host)) {
    throw new PraaSError(
      "BAD_REQUEST",
      `invalid host ${JSON.stringify(host)}: use a DNS name or an IP address`,
    );
  }
}

function altName(host: string): { type: 2; value: string } | { type: 7; ip: string } {
  return isIP(host) === 0 ? { type: 2, value: host } : { type: 7, ip: host };
}

async function generateCa() {
  return generate([{ name: "commonName", value: "PraaS development CA" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: addDays(CA_YEARS * 365),
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      {
        name: "keyUsage",
        keyCertSign: true,
        cRLSign: true,
        digitalSignature: true,
        critical: true,
      },
    ],
  });
}

/** A fresh CA and a server certificate for {@link DEFAULT_HOSTS} plus `extraHosts`. */
export async function generateDevCertificates(extraHosts: string[] = []): Promise<DevCertificates> {
  extraHosts.forEach(assertHost);
  const hosts = [...new Set([...DEFAULT_HOSTS, ...extraHosts])];
  const ca = await generateCa();
  const server = await generate([{ name: "commonName", value: "PraaS development server" }], {
    keyType: "ec",
    algorithm: "sha256",
    notAfterDate: addDays(SERVER_DAYS),
    ca: { key: ca.private, cert: ca.cert },
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      { name: "subjectAltName", altNames: hosts.map(altName) },
    ],
  });
  return { ca: ca.cert, cert: server.cert, key: server.private, hosts };
}
