import { snapshots } from "@edgesocks/db/schema";
import {
  COUNTRY_CODES,
  type CompiledAcl,
  compileAcl,
  explain,
  type PolicySnapshot,
} from "@edgesocks/policy";
import { text } from "@edgesocks/policy/text";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { ApiError } from "../errors";
import { rowToPublished } from "../services/policy-service";
import { router, viewerProcedure } from "../trpc";
import { aclSettingsProcedures } from "./acl-settings";
import { Name } from "./inputs";
import { AclTestOutput } from "./outputs";

// Compiled ACLs by "epoch:version"; snapshots never change, so entries never go stale.
const compiled = new Map<string, { snapshot: PolicySnapshot; acl: CompiledAcl }>();
const MAX_COMPILED = 16;

function compiledFor(snapshot: PolicySnapshot): CompiledAcl {
  const key = `${snapshot.epoch}:${snapshot.version}`;
  let entry = compiled.get(key);
  if (entry === undefined) {
    entry = { snapshot, acl: compileAcl(snapshot) };
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, entry);
  }
  return entry.acl;
}

/** An ISO 3166-1 alpha-2 code, any case; the output is upper case. */
const CountryCode = z
  .string()
  .regex(/^[A-Za-z]{2}$/, "must be a two-letter ISO 3166-1 code")
  .transform((code) => code.toUpperCase())
  .refine((code) => COUNTRY_CODES.has(code), "is not an ISO 3166-1 alpha-2 country code");

export const aclRouter = router({
  ...aclSettingsProcedures,

  /**
   * Decides one request with the same engine the relays run: the decision, the deciding rule and
   * every rule that applies to the user (with whether it matched).
   */
  test: viewerProcedure
    .input(
      z.object({
        user: Name,
        /** Domain name or IP literal, as the client asks for it. */
        destination: text({ min: 1, max: 255 }),
        /** The resolved address, if the destination is a name (lets IP/CIDR rules match). */
        address: text({ max: 64 }).optional(),
        port: z.int().min(0).max(65535),
        protocol: z.enum(["tcp", "udp"]).default("tcp"),
        /** Test against this snapshot version instead of the newest. */
        version: z.int().min(1).optional(),
        /** The client's IP, for rules with `sources`. Absent: such rules do not match. */
        client: z.union([z.ipv4(), z.ipv6()]).optional(),
        /** The instant schedules are evaluated at. @default now */
        at: z.iso.datetime({ offset: true }).optional(),
        /**
         * The control plane has no GeoIP database (relays do): the country to take for the client
         * and for the destination's address, so `country:XX` rules can be tested.
         */
        clientCountry: CountryCode.optional(),
        destinationCountry: CountryCode.optional(),
      }),
    )
    .output(AclTestOutput)
    .query(async ({ ctx, input }) => {
      // The newest version in the database: the hub's copy may still be inside its debounce.
      const version = input.version ?? (await ctx.services.policy.latestVersion());
      const epoch = await ctx.services.policy.epoch();
      let snapshot = compiled.get(`${epoch}:${version}`)?.snapshot;
      if (snapshot === undefined) {
        const row = await ctx.services.database.db
          .select()
          .from(snapshots)
          .where(eq(snapshots.version, version))
          .get();
        snapshot = row === undefined ? undefined : rowToPublished(row).snapshot;
      }
      if (snapshot === undefined) {
        throw new ApiError(
          "API_E_NOT_FOUND",
          input.version === undefined
            ? "no snapshot published yet"
            : `version: ${input.version} does not exist`,
        );
      }
      const { client, clientCountry, destinationCountry } = input;
      const nowMs = input.at === undefined ? Date.now() : Date.parse(input.at);
      const hasCountry = clientCountry !== undefined || destinationCountry !== undefined;
      const result = explain(compiledFor(snapshot), {
        user: input.user,
        host: input.destination,
        address: input.address,
        port: input.port,
        protocol: input.protocol,
        client,
        now: nowMs,
        // Only ever asked about the client and the destination's address.
        countryOf: hasCountry
          ? (ip) => (ip === client ? (clientCountry ?? null) : (destinationCountry ?? null))
          : undefined,
      });
      return {
        version: snapshot.version,
        at: new Date(nowMs).toISOString(),
        userKnown: snapshot.users.some((u) => u.username === input.user),
        decision: {
          action: result.decision.action,
          ruleId: result.decision.ruleId,
          reason: result.decision.reason,
        },
        rule: result.decision.rule,
        considered: result.considered.map((c) => ({ rule: c.rule, matched: c.matched })),
      };
    }),
});
