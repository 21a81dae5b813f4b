import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Pki {
  dir: string;
  caCert: string;
  /** Issues a certificate signed by this CA; returns the cert and key paths. */
  issue(
    name: string,
    options?: { cn?: string; expired?: boolean; san?: string; days?: number },
  ): { cert: string; key: string };
}

const openssl = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: "pipe" });

/** A throwaway certificate authority made with the openssl CLI, for TLS tests. */
export function createPki(dir: string, caName = "EdgeSocks Test CA"): Pki {
  mkdirSync(join(dir, "newcerts"), { recursive: true });
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(join(dir, "serial"), "1000\n");
  writeFileSync(
    join(dir, "ca.cnf"),
    `[ca]
default_ca = test_ca
[test_ca]
dir = ${dir}
database = $dir/index.txt
new_certs_dir = $dir/newcerts
serial = $dir/serial
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
policy = any
unique_subject = no
copy_extensions = copy
[any]
commonName = supplied
`,
  );
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.pem",
      "-days",
      "2",
      "-subj",
      `/CN=${caName}`,
    ],
    dir,
  );
  return {
    dir,
    caCert: join(dir, "ca.pem"),
    issue(name, options = {}) {
      const key = join(dir, `${name}.key`);
      const csr = join(dir, `${name}.csr`);
      const cert = join(dir, `${name}.pem`);
      openssl(
        [
          "req",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-keyout",
          key,
          "-out",
          csr,
          "-subj",
          `/CN=${options.cn ?? name}`,
          "-addext",
          `subjectAltName=${options.san ?? "IP:127.0.0.1,DNS:localhost"}`,
        ],
        dir,
      );
      const dates = options.expired
        ? ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"]
        : ["-days", String(options.days ?? 2)];
      openssl(
        ["ca", "-batch", "-config", "ca.cnf", "-in", csr, "-out", cert, "-notext", ...dates],
        dir,
      );
      return { cert, key };
    },
  };
}
