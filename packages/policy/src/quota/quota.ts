import { z } from "zod";
import { text } from "../text";
import { isTimeZone, QUOTA_PERIODS } from "./period";

/**
 * A traffic quota of a user or a group (shared by all its members together):
 * `bytes` per calendar `period` in the snapshot's `quotaTimezone`.
 */
export const Quota = z
  .strictObject({
    /** Bytes the period allows. */
    bytes: z.int().min(1).max(Number.MAX_SAFE_INTEGER),
    /** Calendar day, week (from Monday) or month in `quotaTimezone`, or a rolling window. */
    period: z.enum(QUOTA_PERIODS),
    /** What counts: client → destination (`up`), back (`down`), or both. @default "total" */
    direction: z.enum(["total", "up", "down"]).default("total"),
    /** Once spent: open sessions are closed, or slowed to `throttleBytesPerSec`. @default "close" */
    onExhaust: z.enum(["close", "throttle"]).default("close"),
    /** Required with onExhaust "throttle", refused with "close". */
    throttleBytesPerSec: z.int().min(1).optional(),
  })
  .superRefine((quota, ctx) => {
    if (quota.onExhaust === "throttle" && quota.throttleBytesPerSec === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["throttleBytesPerSec"],
        message:
          'onExhaust "throttle" needs throttleBytesPerSec (the rate once the quota is spent)',
      });
    }
    if (quota.onExhaust === "close" && quota.throttleBytesPerSec !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["throttleBytesPerSec"],
        message: 'throttleBytesPerSec is only meaningful with onExhaust "throttle" (here "close")',
      });
    }
  });
export type Quota = z.infer<typeof Quota>;

/** An IANA time zone name the runtime knows. */
export const TimeZone = text({ min: 1, max: 100 }).refine(isTimeZone, {
  error: (issue) =>
    `unknown time zone ${JSON.stringify(issue.input)} (expected an IANA name such as "UTC" or "Europe/Berlin")`,
});

/** The key a quota's usage is counted under, fleet-wide: `user:alice`, `group:developers`. */
export function quotaSubject(kind: "user" | "group", name: string): string {
  return `${kind}:${name}`;
}
