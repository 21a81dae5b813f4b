/** Counts open client connections against server.max_connections. */
export interface ConnectionGate {
  /** Takes a slot unless `max` are open; false: refuse the connection. */
  tryOpen(max: number): boolean;
  /** A connection that took a slot closed. */
  close(): void;
  readonly active: number;
}

/** The gate of a relay running in one thread. */
export class LocalConnectionGate implements ConnectionGate {
  active = 0;

  tryOpen(max: number): boolean {
    if (this.active >= max) return false;
    this.active += 1;
    return true;
  }

  close(): void {
    this.active -= 1;
  }
}
