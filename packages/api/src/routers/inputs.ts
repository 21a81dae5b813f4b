// Browser-safe (the admin app's forms validate with these, @edgesocks/api/inputs): zod,
// @edgesocks/policy/text and @edgesocks/policy/rule-schema only.
import { RouteName, Schedule, SourcePattern } from "@edgesocks/policy/rule-schema";
import { text } from "@edgesocks/policy/text";
import { z } from "zod";

export { RouteName };

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

export const Owner = z.object({ kind: z.enum(["user", "group"]), name: Name });

/**
 * A rule's fields without defaults: what a patch may name (a field left out of a patch keeps its
 * value, it is never reset to a default).
 */
export const RulePatchFields = {
  owner: Owner,
  action: z.enum(["allow", "block"]),
  description: text({ max: 1000 }).nullable(),
  /** IP, CIDR, exact domain, `*.domain`, `country:XX` or `*`. */
  destinations: z
    .array(text({ max: 300 }))
    .min(1)
    .max(1000),
  /** "443", "8000-9000", "80,443" or "*". */
  ports: z
    .array(text({ max: 200 }))
    .min(1)
    .max(100),
  protocols: Protocols,
  priority: z.int().min(-1_000_000).max(1_000_000),
  /** Client IPs, CIDRs or `country:XX` (ISO 3166-1 alpha-2); null: every client. */
  sources: z.array(SourcePattern).min(1).max(1000).nullable(),
  /** Days, time windows and IANA time zone the rule applies in; null: always. */
  schedule: Schedule.nullable(),
  /** Close the sessions this rule allowed when its window ends (needs a schedule). */
  closeAtWindowEnd: z.boolean(),
  /** The route (routes.list) this allow rule's CONNECTs go through; null: direct. */
  route: RouteName.nullable(),
};

/** A rule's fields, as created and imported: one definition, so the paths cannot drift. */
export const RuleFields = {
  ...RulePatchFields,
  description: RulePatchFields.description.default(null),
  protocols: RulePatchFields.protocols.default(["both"]),
  priority: RulePatchFields.priority.default(0),
  sources: RulePatchFields.sources.default(null),
  schedule: RulePatchFields.schedule.default(null),
  closeAtWindowEnd: RulePatchFields.closeAtWindowEnd.default(false),
  route: RulePatchFields.route.default(null),
};

/** Page size for lists. @default 50 */
export const Limit = z.int().min(1).max(500).default(50);
