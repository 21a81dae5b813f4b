import { V4Table, V6Table } from "./cidr";
import type { CompiledRule } from "./compiled-rule";

/** A wildcard pattern (`api.*.com`) in the index, with its rule and cheap pre-filters. */
export interface PatternEntry {
  readonly rule: CompiledRule;
  readonly regex: RegExp;
  readonly literalPrefix: string;
  readonly labels: number;
  readonly anyDepth: boolean;
}

/**
 * Everything keyed by one name, so the exact lookup and each label-suffix probe cost one Map
 * lookup: rules naming it exactly, rules with `*.name`, and patterns whose literal suffix it is.
 */
export class NameBucket {
  exact: CompiledRule[] | undefined = undefined;
  below: CompiledRule[] | undefined = undefined;
  patterns: PatternEntry[] | undefined = undefined;
}

/**
 * The rules that apply to one principal (a user, or every user with the same groups and no rules
 * of their own), bucketed so a request only looks at rules that can match its destination. Every
 * bucket is sorted by rank, so a scan can stop at the first rule that also accepts port and
 * protocol.
 */
export class PrincipalIndex {
  /** All rules, in evaluation order (explain() walks these). */
  readonly rules: readonly CompiledRule[];
  /** Rules with a `*` destination. */
  readonly any: CompiledRule[] = [];
  /**
   * `example.com` → rules naming it exactly, rules with `*.example.com`, and wildcard patterns
   * whose literal label suffix it is (`com` for `api.*.com`).
   */
  readonly names = new Map<string, NameBucket>();
  /** Wildcard patterns without a literal suffix (`*.example.*`), tried on every name. */
  readonly unanchoredPatterns: PatternEntry[] = [];
  readonly v4 = new V4Table<CompiledRule>();
  readonly v6 = new V6Table<CompiledRule>();
  /** `DE` → rules with a `country:DE` destination (matched on addresses only). */
  readonly countries = new Map<string, CompiledRule[]>();
  /** True when some name rule needs the label-suffix probe. */
  readonly probesSuffixes: boolean;
  /** True when some rule has a schedule or sources, so evaluate() fills in its context. */
  readonly conditional: boolean;

  constructor(rules: readonly CompiledRule[]) {
    this.rules = rules;
    let probes = false;
    let conditional = false;
    for (const rule of rules) {
      if (rule.conditions !== null) conditional = true;
      for (const destination of rule.destinations) {
        switch (destination.kind) {
          case "any":
            if (this.any[this.any.length - 1] !== rule) this.any.push(rule);
            break;
          case "domain": {
            const bucket = this.#bucket(destination.name);
            bucket.exact = pushOnce(bucket.exact, rule);
            break;
          }
          case "suffix": {
            const bucket = this.#bucket(destination.suffix);
            bucket.below = pushOnce(bucket.below, rule);
            probes = true;
            break;
          }
          case "pattern": {
            const { regex, literalPrefix, labels, anyDepth } = destination;
            const entry: PatternEntry = { rule, regex, literalPrefix, labels, anyDepth };
            if (destination.literalSuffix === "") this.unanchoredPatterns.push(entry);
            else {
              const bucket = this.#bucket(destination.literalSuffix);
              if (bucket.patterns) bucket.patterns.push(entry);
              else bucket.patterns = [entry];
              probes = true;
            }
            break;
          }
          case "country":
            this.countries.set(
              destination.code,
              pushOnce(this.countries.get(destination.code), rule),
            );
            break;
          case "ip": {
            const network = destination.network;
            if (network.family === 4) this.v4.add(network.net, network.prefix, rule);
            else this.v6.add(network.net, network.prefix, rule);
            break;
          }
        }
      }
    }
    this.probesSuffixes = probes;
    this.conditional = conditional;
  }

  #bucket(name: string): NameBucket {
    let bucket = this.names.get(name);
    if (!bucket) {
      bucket = new NameBucket();
      this.names.set(name, bucket);
    }
    return bucket;
  }
}

/** Appends unless `rule` is already last (a rule naming one key twice); rules arrive in rank order. */
function pushOnce(list: CompiledRule[] | undefined, rule: CompiledRule): CompiledRule[] {
  if (!list) return [rule];
  if (list[list.length - 1] !== rule) list.push(rule);
  return list;
}

export const EMPTY_INDEX = new PrincipalIndex([]);
