import { join } from "node:path";
import { runCommand } from "./processes";

export interface CertFiles {
  certificatePath: string;
  privateKeyPath: string;
  /** What was generated, for the report. */
  description: string;
}

/** A self-signed ECDSA P-256 certificate for 127.0.0.1 made with the openssl CLI. */
export async function makeSelfSignedCert(dir: string): Promise<CertFiles> {
  const certificatePath = join(dir, "cert.pem");
  const privateKeyPath = join(dir, "key.pem");
  // biome-ignore format: flag/value pairs read best one pair per line
  const result = await runCommand("openssl", [
    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
    "-nodes", "-days", "2",
    "-subj", "/CN=edgesocks-bench",
    "-addext", "subjectAltName=IP:127.0.0.1",
    "-keyout", privateKeyPath, "-out", certificatePath,
  ], { timeoutMs: 30000 });
  if (result.code !== 0) throw new Error(`openssl req failed: ${result.stderr.trim()}`);
  return {
    certificatePath,
    privateKeyPath,
    description: "self-signed ECDSA P-256, TLS 1.3, a full handshake per connection",
  };
}
