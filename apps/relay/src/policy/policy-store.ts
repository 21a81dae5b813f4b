import type { PolicySnapshot } from "@edgesocks/policy";
import { RelayError } from "../errors";
import { type CompiledPolicy, compilePolicy, type RelayIdentity } from "./compiled-policy";

export type PolicyListener = (next: CompiledPolicy, previous: CompiledPolicy | undefined) => void;

/** A listener that threw while a policy already in force was being carried out. */
export interface ListenerFailure {
  /** What the listener does, e.g. "QoS re-apply", "revocation". */
  listener: string;
  error: Error;
}

export interface Applied {
  policy: CompiledPolicy;
  /** Empty when every listener ran; the policy is in force either way. */
  failures: ListenerFailure[];
}

/**
 * The policy in force. A new snapshot is compiled off to the side and swapped
 * in as one reference, so a session sees the old policy or the new one,
 * never half of each.
 */
export class PolicyStore {
  #current: CompiledPolicy | undefined;
  readonly #listeners = new Map<PolicyListener, string>();
  #guard: ((next: CompiledPolicy) => string | null) | undefined;
  readonly #node: RelayIdentity;

  /** `node`: the relay this store compiles for (its auth.scopes method). @default standalone */
  constructor(node: RelayIdentity = { name: null, region: null }) {
    this.#node = { ...node };
  }

  get current(): CompiledPolicy {
    if (!this.#current) throw new Error("no policy loaded yet");
    return this.#current;
  }

  get loaded(): boolean {
    return this.#current !== undefined;
  }

  /**
   * Compiles and swaps in `snapshot` (already validated). Throws RelayError
   * RELAY_E_SNAPSHOT, with nothing changed, if it does not compile. Once it is
   * swapped in, every listener runs; one that throws does not stop the others
   * and does not undo the swap: its failure is returned, for the caller to
   * report as what it is.
   */
  apply(snapshot: PolicySnapshot): Applied {
    let next: CompiledPolicy;
    try {
      next = compilePolicy(snapshot, this.#node);
    } catch (cause) {
      throw new RelayError("RELAY_E_SNAPSHOT", `does not compile: ${(cause as Error).message}`, {
        cause,
      });
    }
    const refused = this.#guard?.(next);
    if (refused) throw new RelayError("RELAY_E_SNAPSHOT", refused);
    const previous = this.#current;
    this.#current = next;
    const failures: ListenerFailure[] = [];
    for (const [listener, label] of this.#listeners) {
      try {
        listener(next, previous);
      } catch (error) {
        failures.push({
          listener: label,
          error: error instanceof Error ? error : new Error(String(error)),
        });
      }
    }
    return { policy: next, failures };
  }

  /**
   * A check every later snapshot must pass before it is swapped in (what this relay cannot
   * enforce): `guard` returns why a policy is refused, or null. Returns the current policy's
   * verdict, so a policy already loaded is checked too.
   */
  requireThat(guard: (next: CompiledPolicy) => string | null): string | null {
    this.#guard = guard;
    return this.#current ? guard(this.#current) : null;
  }

  /** `label` names the listener in a failure report. */
  onChange(listener: PolicyListener, label = "policy listener"): () => void {
    this.#listeners.set(listener, label);
    return () => this.#listeners.delete(listener);
  }
}

/** `QoS re-apply: boom; revocation: ...`, for one log line or ack. */
export function describeFailures(failures: readonly ListenerFailure[]): string {
  return failures.map((f) => `${f.listener}: ${f.error.message}`).join("; ");
}
