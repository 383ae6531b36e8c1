/**
 * The last `barman check -f json` result of each server of a host: whichever run gave it (a
 * user's check through the API, or the background round every `[metrics] check_interval`), with
 * its time, since a check is costly and its result may be minutes old.
 */
export interface ServerChecks {
  /** ISO 8601: when the check ran. */
  at: string;
  /** Check name (barman's JSON key) → whether it is OK. */
  checks: Record<string, boolean>;
}

export class CheckResults {
  private readonly byServer = new Map<string, ServerChecks>();

  /**
   * Take a check's JSON document (`{"pg": {"archiver_errors": {"status": "OK"}, …}}`); anything
   * else is left alone. `all`: it was `check all`, so servers it does not name are gone.
   */
  record(doc: unknown, at: string, all = false): void {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return;
    if (all) this.byServer.clear();
    for (const [server, items] of Object.entries(doc as Record<string, unknown>)) {
      if (server.startsWith('_') || typeof items !== 'object' || items === null || Array.isArray(items)) continue;
      const checks: Record<string, boolean> = {};
      for (const [name, item] of Object.entries(items as Record<string, unknown>)) {
        const status = typeof item === 'object' && item !== null ? (item as { status?: unknown }).status : undefined;
        if (typeof status === 'string') checks[name] = status === 'OK';
      }
      if (Object.keys(checks).length > 0) this.byServer.set(server, { at, checks });
    }
  }

  /** Each server's last result, by name. */
  current(): ReadonlyMap<string, ServerChecks> {
    return this.byServer;
  }
}
