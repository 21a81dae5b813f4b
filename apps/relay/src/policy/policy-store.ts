import type { PolicySnapshot } from "@edgesocks/policy";
import { type CompiledPolicy, compilePolicy } from "./compiled-policy";

export type PolicyListener = (next: CompiledPolicy, previous: CompiledPolicy | undefined) => void;

/**
 * The policy in force. A new snapshot is compiled off to the side and swapped
 * in as one reference, so a session sees the old policy or the new one,
 * never half of each.
 */
export class PolicyStore {
  #current: CompiledPolicy | undefined;
  readonly #listeners = new Set<PolicyListener>();

  get current(): CompiledPolicy {
    if (!this.#current) throw new Error("no policy loaded yet");
    return this.#current;
  }

  get loaded(): boolean {
    return this.#current !== undefined;
  }

  /** Compiles and swaps in `snapshot` (already validated); throws if it does not compile. */
  apply(snapshot: PolicySnapshot): CompiledPolicy {
    const next = compilePolicy(snapshot);
    const previous = this.#current;
    this.#current = next;
    for (const listener of this.#listeners) listener(next, previous);
    return next;
  }

  onChange(listener: PolicyListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
