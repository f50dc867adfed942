/**
 * What the load test knows about each user row: the newest version a writer acknowledged.
 * Readers are checked against it (a read that started after an acknowledgement must see at
 * least that version) and the table is checked against it at the end (no acknowledged write
 * may be missing). Pure, so the rules are unit-tested.
 */
export class WriteLedger {
  private readonly acknowledged = new Map<string, { version: number; name: string }>();
  staleReads = 0;

  /** Record a writer's acknowledged result. */
  acknowledge(email: string, user: { version: number; name: string }): void {
    const known = this.acknowledged.get(email);
    if (!known || user.version >= known.version) {
      this.acknowledged.set(email, { version: user.version, name: user.name });
    }
  }

  /** The version a read starting now must see at least (0: nothing acknowledged yet). */
  expectation(email: string): number {
    return this.acknowledged.get(email)?.version ?? 0;
  }

  /** Checks a read against the expectation taken when it started; returns whether it was stale. */
  checkRead(expectedAtLeast: number, user: { version: number } | null): boolean {
    const stale = expectedAtLeast > 0 && (user === null || user.version < expectedAtLeast);
    if (stale) {
      this.staleReads++;
    }
    return stale;
  }

  /**
   * Acknowledged writes missing from the final table: a row that is absent or older than the
   * newest acknowledged version of its email.
   */
  lostWrites(
    rows: readonly { email: string; version: number }[]
  ): { email: string; expected: number; found: number | null }[] {
    const found = new Map(rows.map((row) => [row.email, row.version]));
    const lost: { email: string; expected: number; found: number | null }[] = [];
    for (const [email, { version }] of this.acknowledged) {
      const actual = found.get(email) ?? null;
      if (actual === null || actual < version) {
        lost.push({ email, expected: version, found: actual });
      }
    }
    return lost;
  }

  get emails(): number {
    return this.acknowledged.size;
  }
}
