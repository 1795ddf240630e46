/** `praas certs [--host H ...] [--out DIR]`: a development CA and server certificate. */
import { access, chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import type { Command } from "commander";

import { PraaSError } from "../../protocol/errors.js";
import { collect } from "../arguments.js";
import type { DevCertificates } from "../certificates.js";
import { printResult, type OutputFlags } from "../output.js";
import { withProgress } from "../progress.js";

interface CertsFlags extends OutputFlags {
  host?: string[];
  out: string;
  force?: boolean;
}

interface CertFiles {
  ca: string;
  cert: string;
  key: string;
}

function filesIn(dir: string): CertFiles {
  const path = (name: string) => join(dir, name);
  return { ca: path("ca.pem"), cert: path("server.pem"), key: path("server-key.pem") };
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

// Replacing a CA silently would break every client that trusts the old one.
async function refuseOverwrite(files: CertFiles): Promise<void> {
  for (const path of [files.ca, files.cert, files.key]) {
    if (await exists(path)) {
      throw new PraaSError("ALREADY_EXISTS", `${path} exists (use --force to replace it)`);
    }
  }
}

async function writeCertificates(files: CertFiles, pems: DevCertificates): Promise<void> {
  await writeFile(files.ca, pems.ca);
  await writeFile(files.cert, pems.cert);
  await writeFile(files.key, pems.key, { mode: 0o600 });
  await chmod(files.key, 0o600); // `mode` only applies when the file is new
}

function renderUsage(files: CertFiles & { hosts: string[] }): string {
  return [
    `wrote ${files.ca} (CA), ${files.cert} and ${files.key} (server, for ${files.hosts.join(", ")})`,
    `serve:   praas up --https --cert ${files.cert} --key ${files.key}`,
    `clients: praas ... --ca ${files.ca}   (or PRAAS_CA=${files.ca}; SDK: new PraaS(url, { ca }))`,
  ].join("\n");
}

async function certs(flags: CertsFlags): Promise<void> {
  const files = filesIn(flags.out);
  if (flags.force !== true) await refuseOverwrite(files);
  // Loaded on use: the certificate library is heavy, and other commands never need it.
  const { generateDevCertificates } = await import("../certificates.js");
  const pems = await withProgress("generating certificates", () =>
    generateDevCertificates(flags.host ?? []),
  );
  await mkdir(flags.out, { recursive: true });
  await writeCertificates(files, pems);
  printResult(flags, { ...files, hosts: pems.hosts }, renderUsage);
}

export function registerCerts(program: Command): void {
  program
    .command("certs")
    .description("make a development CA and a server certificate it signed (for praas up --https)")
    .option(
      "--host <name>",
      "an extra DNS name or IP for the server certificate (repeatable)",
      collect,
    )
    .option("--out <dir>", "directory for ca.pem, server.pem and server-key.pem", "./certs")
    .option("--force", "replace existing files")
    .option("--json", "print the file paths as JSON")
    .action((flags: CertsFlags) => certs(flags));
}
