/**
 * Warm-cache authentication benchmark: RFC 1929 credentials checked by the
 * relay's CredentialVerifier once each user's argon2id hash has been verified
 * (the state of every connection after a user's first). Each call is timed
 * on its own, await included, as the relay awaits it per connection.
 * PAM rows (pam.username through pamtester, pam_pwdfile) beside them need
 * root, pamtester and libpam-pwdfile; without them the rows say why not.
 * Run: `tsx bench/auth-bench.ts`.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hash } from "@node-rs/argon2";
import { ChildPool } from "../apps/relay/src/auth/child-pool";
import { CredentialVerifier, type UserSecret } from "../apps/relay/src/auth/credentials";
import { PamAuthenticator } from "../apps/relay/src/auth/pam";

const USERS = 1_000;
const CALLS = 200_000;
const TARGET_P99_US = 20;
/** Users logged in through PAM (each costs one pamtester process when cold). */
const PAM_USERS = 100;

const users: { secret: UserSecret; password: string }[] = [];
for (let i = 0; i < USERS; i++) {
  const password = `password-${i}-0123456789`;
  users.push({
    secret: { username: `user${i}`, enabled: true, passwordHash: await hash(password) },
    password,
  });
}
const verifier = new CredentialVerifier();

const coldStarted = process.hrtime.bigint();
for (const { secret, password } of users) await verifier.verify(secret, password);
const coldMsPerUser = Number(process.hrtime.bigint() - coldStarted) / 1e6 / USERS;

type Verify = (user: (typeof users)[number]) => Promise<boolean>;
const argon2Verify: Verify = ({ secret, password }) => verifier.verify(secret, password);

async function measure(
  pick: (i: number) => (typeof users)[number],
  verify: Verify = argon2Verify,
): Promise<Float64Array> {
  const samples = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const user = pick(i);
    const started = process.hrtime.bigint();
    const ok = await verify(user);
    samples[i] = Number(process.hrtime.bigint() - started) / 1000;
    if (!ok) throw new Error(`verification failed for ${user.secret.username}`);
  }
  return samples.sort();
}

const quantile = (sorted: Float64Array, q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

await measure((i) => users[i % USERS]!); // JIT warm-up
const rows: string[] = [];
let worstP99 = 0;
const pam = await pamSetup();
const rowsToRun: [string, (i: number) => (typeof users)[number], Verify][] = [
  ["argon2id: one busy user", () => users[0]!, argon2Verify],
  [`argon2id: ${USERS} users round robin`, (i) => users[i % USERS]!, argon2Verify],
];
if (pam.ok) {
  rowsToRun.push(
    ["PAM (pam_pwdfile): one busy user", () => users[0]!, pam.verify],
    [`PAM (pam_pwdfile): ${PAM_USERS} users round robin`, (i) => users[i % PAM_USERS]!, pam.verify],
  );
}
for (const [name, pick, verify] of rowsToRun) {
  const sorted = await measure(pick, verify);
  const p99 = quantile(sorted, 0.99);
  worstP99 = Math.max(worstP99, p99);
  rows.push(
    `| ${name} | ${quantile(sorted, 0.5).toFixed(2)} | ${p99.toFixed(2)} | ${quantile(sorted, 0.999).toFixed(1)} |`,
  );
}

console.log(`### Authentication with a warm credential cache (bench/auth-bench.ts)

${CALLS.toLocaleString("en-US")} verifications per row after each user's first (argon2id, ${coldMsPerUser.toFixed(1)} ms per user when cold).

| Credentials | p50 (µs) | p99 (µs) | p99.9 (µs) |
| --- | ---: | ---: | ---: |
${rows.join("\n")}

${pam.ok ? `PAM when cold (one pamtester process per login, pam_pwdfile): ${pam.coldMsPerLogin.toFixed(1)} ms per login.` : `PAM rows not measured: ${pam.reason}.`}

${worstP99 < TARGET_P99_US ? "✅" : "❌"} p99 ${worstP99.toFixed(2)} µs (target: < ${TARGET_P99_US} µs)`);

/**
 * A throwaway pam_pwdfile service for the first PAM_USERS users, each logged in once (cold) so
 * the measured calls find the PAM success cache warm, as the relay does after a user's first.
 */
async function pamSetup(): Promise<
  { ok: true; verify: Verify; coldMsPerLogin: number } | { ok: false; reason: string }
> {
  if (process.getuid?.() !== 0) return { ok: false, reason: "needs root (writes /etc/pam.d)" };
  if (!existsSync("/usr/bin/pamtester")) return { ok: false, reason: "pamtester is not installed" };
  const dir = mkdtempSync(join(tmpdir(), "edgesocks-auth-bench-"));
  const service = `edgesocks-bench-${randomBytes(4).toString("hex")}`;
  const pwdfile = join(dir, "users.pwd");
  const sample = users.slice(0, PAM_USERS);
  const lines = sample.map(({ secret, password }) => {
    const crypt = execFileSync("openssl", ["passwd", "-6", "-stdin"], { input: password });
    return `${secret.username}:${crypt.toString().trim()}`;
  });
  writeFileSync(pwdfile, `${lines.join("\n")}\n`);
  writeFileSync(
    `/etc/pam.d/${service}`,
    `auth required pam_pwdfile.so pwdfile=${pwdfile}\naccount required pam_permit.so\n`,
  );
  try {
    const authenticator = new PamAuthenticator(
      {
        usernameService: service,
        addressService: service,
        defaultUser: "nobody",
        defaultRuser: "nobody",
        cacheTtlMs: 600_000,
      },
      new ChildPool(),
    );
    const verify: Verify = async ({ secret, password }) =>
      (await authenticator.verifyPassword(secret.username, password, "127.0.0.1")).result ===
      "success";
    const started = process.hrtime.bigint();
    for (const user of sample) {
      if (!(await verify(user))) return { ok: false, reason: "pam_pwdfile refused a bench user" };
    }
    const coldMsPerLogin = Number(process.hrtime.bigint() - started) / 1e6 / sample.length;
    return { ok: true, verify, coldMsPerLogin };
  } finally {
    // The cache holds the successes: the service is not needed for the warm rows.
    rmSync(`/etc/pam.d/${service}`, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
