import type { ClientSession } from "./client-session";

/** Every open client connection, for the ops API, shutdown and revocation. */
export class SessionRegistry {
  readonly #sessions = new Map<string, ClientSession>();

  add(session: ClientSession): void {
    this.#sessions.set(session.id, session);
  }

  delete(session: ClientSession): void {
    this.#sessions.delete(session.id);
  }

  get size(): number {
    return this.#sessions.size;
  }

  get(id: string): ClientSession | undefined {
    return this.#sessions.get(id);
  }

  values(): IterableIterator<ClientSession> {
    return this.#sessions.values();
  }

  /** Closes every session whose user matches, returning how many it closed. */
  closeWhere(predicate: (session: ClientSession) => boolean, reason: string): number {
    let count = 0;
    for (const session of this.#sessions.values()) {
      if (predicate(session)) {
        session.close(reason);
        count += 1;
      }
    }
    return count;
  }
}
