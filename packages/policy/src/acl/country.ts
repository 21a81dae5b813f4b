/**
 * ISO 3166-1 alpha-2 country codes, for `country:XX` in a rule's destinations and sources.
 * Browser-safe (no I/O): the admin app validates with the same list the control plane does.
 */
const CODES =
  "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR " +
  "BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ " +
  "EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW " +
  "GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY " +
  "KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV " +
  "MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY " +
  "QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG " +
  "TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW";

export const COUNTRY_CODES: ReadonlySet<string> = new Set(CODES.split(" "));

/** The prefix of a country pattern: `country:DE`. */
export const COUNTRY_PREFIX = "country:";

/** Looks up the country (ISO code, upper case) of an IP literal; null when the database has none. */
export type CountryLookup = (address: string) => string | null;

export type CountryResult = { ok: true; code: string } | { ok: false; error: string };

/** True when `pattern` is meant as a country (`country:` prefix, any case). */
export function isCountryPattern(pattern: string): boolean {
  return pattern.slice(0, COUNTRY_PREFIX.length).toLowerCase() === COUNTRY_PREFIX;
}

/** Parses `country:DE` (code case-insensitive) into `DE`; refuses a code that ISO 3166-1 lacks. */
export function parseCountryPattern(pattern: string): CountryResult {
  const code = pattern.slice(COUNTRY_PREFIX.length).toUpperCase();
  if (!/^[A-Z]{2}$/.test(code)) {
    return {
      ok: false,
      error: `"${pattern}" is not a country pattern: write country:XX with a two-letter ISO 3166-1 code`,
    };
  }
  if (!COUNTRY_CODES.has(code)) {
    return { ok: false, error: `"${pattern}": ${code} is not an ISO 3166-1 alpha-2 country code` };
  }
  return { ok: true, code };
}

/**
 * The country of one MMDB record, whichever database made it: ip-location-db writes
 * `{ country_code: "DE" }`, MaxMind GeoIP2/GeoLite2 `{ country: { iso_code: "DE" } }` (with
 * `registered_country` as the fallback for anycast and satellite ranges). Anything else, or a code
 * outside ISO 3166-1, is no country.
 */
export function countryFromRecord(record: unknown): string | null {
  if (record === null || typeof record !== "object") return null;
  const r = record as {
    country_code?: unknown;
    country?: { iso_code?: unknown };
    registered_country?: { iso_code?: unknown };
  };
  const code = r.country_code ?? r.country?.iso_code ?? r.registered_country?.iso_code;
  if (typeof code !== "string") return null;
  const upper = code.toUpperCase();
  return COUNTRY_CODES.has(upper) ? upper : null;
}

/** `::ffff:192.0.2.1` → `192.0.2.1`: MMDB trees hold IPv4 under IPv4, not its mapped form. */
export function unmapIpv4(address: string): string {
  return address.length > 7 &&
    address.slice(0, 7).toLowerCase() === "::ffff:" &&
    address.includes(".", 7)
    ? address.slice(7)
    : address;
}
