// Browser-safe (the admin app's forms validate with these, @edgesocks/api/inputs): zod and
// @edgesocks/policy/text only.
import { text } from "@edgesocks/policy/text";
import { z } from "zod";

/** A user, group or node name as the admin API accepts it. */
export const Name = text({ max: 255 }).trim().min(1);

/** A bandwidth override; null clears a field, absent keeps it. */
export const QosOverrideInput = z.object({
  guaranteedBytesPerSec: z.int().min(0).nullable().optional(),
  maxBytesPerSec: z.int().min(1).nullable().optional(),
  burstBytes: z.int().min(1).nullable().optional(),
});

export const Protocols = z.array(z.enum(["tcp", "udp", "both"])).min(1);

/** Rule ids: short, URL- and log-friendly. */
export const RuleId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/, "letters, digits, . _ : - (at most 100)");

/** Route names, as @edgesocks/policy's RouteName (repeated: that module is not browser-safe). */
export const RouteName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "letters, digits, . _ - (at most 64, first a letter or digit)",
  );

export const Owner = z.object({ kind: z.enum(["user", "group"]), name: Name });

/** Page size for lists. @default 50 */
/** A rule's fields, as created, patched and imported: one definition, so the paths cannot drift. */
export const RuleFields = {
  owner: Owner,
  action: z.enum(["allow", "block"]),
  description: text({ max: 1000 }).nullable().default(null),
  /** IP, CIDR, exact domain, `*.domain` or `*`. */
  destinations: z
    .array(text({ max: 300 }))
    .min(1)
    .max(1000),
  /** "443", "8000-9000", "80,443" or "*". */
  ports: z
    .array(text({ max: 200 }))
    .min(1)
    .max(100),
  protocols: Protocols.default(["both"]),
  priority: z.int().min(-1_000_000).max(1_000_000).default(0),
  /** The route (routes.list) this allow rule's CONNECTs go through; null: direct. */
  route: RouteName.nullable().default(null),
};

export const Limit = z.int().min(1).max(500).default(50);
