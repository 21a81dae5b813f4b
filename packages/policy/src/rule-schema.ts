/**
 * `@edgesocks/policy/rule-schema`: the zod schemas of a rule's conditions (client sources and time
 * window), one definition for the snapshot, the control plane's API and the admin app's forms.
 * Browser-safe (no node: imports), like ./validate.
 */
import { z } from "zod";
import { parseSource } from "./acl/conditions";
import { parseSchedule } from "./acl/schedule";
import { text } from "./text";

/** One `sources` entry: a client IP, a CIDR or `country:XX` (an ISO 3166-1 alpha-2 code). */
export const SourcePattern = text({ max: 300 }).superRefine((pattern, ctx) => {
  const parsed = parseSource(pattern);
  if (!parsed.ok) ctx.addIssue({ code: "custom", message: parsed.error });
});

/** When a rule applies; see acl/schedule.ts. Outside it the rule does not match. */
export const Schedule = z
  .strictObject({
    /** `mon`..`sun` or ranges (`mon-fri`). @default every day */
    days: z
      .array(text({ max: 20 }))
      .min(1)
      .optional(),
    /** `09:00-17:30`, `22:00:00-06:00:00` (crosses midnight). @default the whole day */
    times: z
      .array(text({ max: 40 }))
      .min(1)
      .optional(),
    /** IANA zone. @default "UTC" */
    timezone: text({ max: 100 }).optional(),
  })
  .superRefine((schedule, ctx) => {
    const parsed = parseSchedule(schedule);
    if (!parsed.ok) ctx.addIssue({ code: "custom", path: parsed.path, message: parsed.error });
  });
export type Schedule = z.infer<typeof Schedule>;

/** The problem with a rule's `closeAtWindowEnd` without a `schedule`. */
export const CLOSE_NEEDS_SCHEDULE = "needs a schedule: without one the window never ends";

/** Route names are labels in metrics and session records: short and plain. */
export const RouteName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
    "letters, digits, . _ - (at most 64, first a letter or digit)",
  );
