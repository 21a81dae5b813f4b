import { randomUUID } from "node:crypto";
import type { Database } from "@edgesocks/db";
import {
  aclSettings,
  admins,
  apiTokens,
  authSettings,
  fleet,
  qosSettings,
} from "@edgesocks/db/schema";
import { eq, sql } from "drizzle-orm";
import { generateToken, hashToken } from "../tokens";
import type { PolicyService } from "./policy-service";
import { defaultPolicyState } from "./policy-state";

export interface BootstrapResult {
  epoch: string;
  /** The first admin token, when this call created it (print it once); otherwise null. */
  adminToken: string | null;
  /** The snapshot version this call published (1), or null when one existed. */
  publishedVersion: number | null;
}

/**
 * Makes an empty database usable, safely from several instances at once: the fleet epoch, a first
 * admin (`admin`, role admin) with a token, the default settings and policy version 1 (auth none,
 * default allow, one anonymous user). Anything that already exists is left alone.
 */
export async function bootstrap(options: {
  database: Database;
  policy: PolicyService;
  /** Use this as the first admin token instead of a random one (e.g. from a secret store). */
  presetAdminToken?: string | undefined;
}): Promise<BootstrapResult> {
  const { database, policy } = options;
  const { db, writes } = database;
  const nowMs = Date.now();
  const defaults = defaultPolicyState();
  const token = options.presetAdminToken ?? generateToken("esa");
  const [, , , , adminInsert] = await writes.run(() =>
    db.batch([
      db
        .insert(fleet)
        .values({ id: 1, epoch: randomUUID(), createdAtMs: nowMs })
        .onConflictDoNothing(),
      db
        .insert(aclSettings)
        .values({ id: 1, ...defaults.acl, updatedAtMs: nowMs })
        .onConflictDoNothing(),
      db
        .insert(authSettings)
        .values({ id: 1, ...defaults.auth, updatedAtMs: nowMs })
        .onConflictDoNothing(),
      db
        .insert(qosSettings)
        .values({ id: 1, ...defaults.qos, updatedAtMs: nowMs })
        .onConflictDoNothing(),
      db.run(
        sql`INSERT INTO ${admins} (name, role, created_at_ms) SELECT 'admin', 'admin', ${nowMs} WHERE NOT EXISTS (SELECT 1 FROM ${admins})`,
      ),
    ]),
  );
  let adminToken: string | null = null;
  if (adminInsert.rowsAffected > 0) {
    const admin = await db.select().from(admins).where(eq(admins.name, "admin")).get();
    await writes.run(() =>
      db.insert(apiTokens).values({
        adminId: admin!.id,
        label: "bootstrap",
        tokenHash: hashToken(token),
        createdAtMs: nowMs,
      }),
    );
    adminToken = token;
  }
  const epoch = await policy.epoch();
  let publishedVersion: number | null = null;
  if ((await policy.latestVersion()) === 0) {
    try {
      const { version } = await policy.change({
        actor: "system",
        action: "bootstrap",
        target: "default policy",
        edit: (state) => {
          if (state.users.length === 0) state.users = defaults.users;
          return { result: null, after: { policy: "auth none, default allow, user anonymous" } };
        },
      });
      publishedVersion = version;
    } catch (error) {
      // Another instance published first; that is the same outcome.
      if ((await policy.latestVersion()) === 0) throw error;
    }
  }
  return { epoch, adminToken, publishedVersion };
}
