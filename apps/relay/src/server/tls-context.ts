import { X509Certificate } from "node:crypto";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { basename, dirname } from "node:path";
import { createSecureContext, type SecureVersion, type TlsOptions } from "node:tls";
import type { TlsConfig } from "../config/schema";
import { RelayError } from "../errors";

export interface TlsFiles {
  certificatePath: string;
  privateKeyPath: string;
  clientCaPath?: string | undefined;
}

/** Reads the certificate files and builds the TLS server options; throws RelayError RELAY_E_TLS. */
export function loadTlsOptions(config: TlsConfig, files: TlsFiles): TlsOptions {
  const read = (key: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new RelayError(
        "RELAY_E_TLS",
        `server.tls.${key}: cannot read ${path} (${(cause as Error).message})`,
        {
          cause,
        },
      );
    }
  };
  const options: TlsOptions = {
    cert: read("certificate_path", files.certificatePath),
    key: read("private_key_path", files.privateKeyPath),
    minVersion: config.min_protocol_version as SecureVersion,
    requestCert: config.require_client_auth,
    rejectUnauthorized: config.require_client_auth,
    ...(files.clientCaPath ? { ca: read("client_ca_path", files.clientCaPath) } : {}),
  };
  try {
    // Fails here, at load time, on a key that does not match its certificate.
    createSecureContext(options);
  } catch (cause) {
    throw new RelayError("RELAY_E_TLS", `server.tls: ${(cause as Error).message}`, { cause });
  }
  return options;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** notAfter of every certificate in a PEM file, in file order. */
function notAfters(pem: Buffer | string): number[] {
  return (String(pem).match(PEM_CERTIFICATE) ?? []).map((block) =>
    Date.parse(new X509Certificate(block).validTo),
  );
}

/**
 * When the loaded certificates expire: the server certificate (its leaf, the first in the file)
 * and the client CA file (its soonest certificate), for edgesocks_relay_tls_certificate_expiry.
 */
export function certificateExpiries(
  options: TlsOptions,
  files: TlsFiles,
): { certificate: "server" | "client_ca"; path: string; notAfterMs: number }[] {
  const list: { certificate: "server" | "client_ca"; path: string; notAfterMs: number }[] = [];
  const leaf = notAfters(options.cert as Buffer)[0];
  if (leaf !== undefined) {
    list.push({ certificate: "server", path: files.certificatePath, notAfterMs: leaf });
  }
  const cas = options.ca === undefined ? [] : notAfters(options.ca as Buffer);
  if (files.clientCaPath && cas.length > 0) {
    list.push({ certificate: "client_ca", path: files.clientCaPath, notAfterMs: Math.min(...cas) });
  }
  return list;
}

/**
 * Re-reads the certificate, key and CA when any of them changes on disk and
 * hands the new options over; a broken set is reported and the old one stays.
 * Existing connections keep the context they were made with.
 */
export function watchTlsFiles(files: TlsFiles, reload: () => void): { close(): void } {
  const paths = [files.certificatePath, files.privateKeyPath, files.clientCaPath].filter(
    (p): p is string => p !== undefined,
  );
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    const names = new Set(paths.filter((p) => dirname(p) === dir).map((p) => basename(p)));
    const watcher = watch(dir, (_event, name) => {
      if (name !== null && !names.has(name)) return;
      clearTimeout(timer);
      // Certificate managers write cert and key in quick succession.
      timer = setTimeout(reload, 200);
    });
    watcher.on("error", () => {});
    watchers.push(watcher);
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
