/** One page of a list answer (`GET /v1/keys`, `/v1/operations`, `/v1/ledger`, ...). */
export interface Page {
  items: Array<Record<string, unknown>>;
  /** `after` of the next page (keys, ledger). */
  next?: string | number | null;
  /** `cursor` of the next page (operations). */
  nextCursor?: string | null;
}

/** What the client commands print: JSON for machines (`--json`), aligned tables and key: value lines for people. */

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(rows: ReadonlyArray<Record<string, unknown>>, columns: readonly string[]): void {
  if (rows.length === 0) {
    process.stdout.write("(none)\n");
    return;
  }
  const cell = (value: unknown) =>
    value === undefined || value === null
      ? "-"
      : typeof value === "object"
        ? JSON.stringify(value)
        : String(value);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  process.stdout.write(`${line(columns.map((c) => c.toUpperCase()))}\n`);
  for (const row of rows) process.stdout.write(`${line(columns.map((c) => cell(row[c])))}\n`);
}

export function printFields(value: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(value).map((k) => k.length));
  for (const [key, field] of Object.entries(value)) {
    const shown = typeof field === "object" && field !== null ? JSON.stringify(field) : String(field ?? "-");
    process.stdout.write(`${key.padEnd(width)}  ${shown}\n`);
  }
}

/**
 * A list answer as a table; when more pages follow, says on stderr which flag fetches the next one, so that
 * a table on stdout is never silently cut at the page size.
 */
export function printPage(page: Page, columns: readonly string[], nextFlag = "--after"): void {
  printTable(page.items, columns);
  const next = page.nextCursor ?? page.next;
  if (next !== undefined && next !== null) process.stderr.write(`(more: ${nextFlag} ${next})\n`);
}
