import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

export const ADMIN_ROLES = ["admin", "viewer"] as const;
export type AdminRole = (typeof ADMIN_ROLES)[number];

/** People and tools that use the admin API. `viewer` reads, `admin` also writes. */
export const admins = sqliteTable("admins", {
  id: integer("id").primaryKey({ autoIncrement: true }),
  name: text("name").notNull().unique(),
  role: text("role", { enum: ADMIN_ROLES }).notNull(),
  createdAtMs: integer("created_at_ms").notNull(),
  disabledAtMs: integer("disabled_at_ms"),
});

/** Bearer tokens (`esa_…`) of an admin; only the sha256 is stored. */
export const apiTokens = sqliteTable(
  "api_tokens",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    adminId: integer("admin_id")
      .notNull()
      .references(() => admins.id, { onDelete: "cascade" }),
    label: text("label").notNull(),
    /** sha256 (hex) of the token. */
    tokenHash: text("token_hash").notNull().unique(),
    createdAtMs: integer("created_at_ms").notNull(),
    lastUsedAtMs: integer("last_used_at_ms"),
    revokedAtMs: integer("revoked_at_ms"),
  },
  (t) => [index("api_tokens_admin_idx").on(t.adminId)],
);
