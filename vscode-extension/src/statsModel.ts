// The words and numbers of `rill/stats` as the menu and the status bar show them: a one-line summary and
// one row per figure (overall, latency, each language and source, where they are kept). Pure (no
// `vscode` import) so the formatting is unit-tested.

import { StatsCounts, StatsResult } from './protocol';

/** One row of the statistics list: what it is about, and its figures. */
export interface StatsRow {
  label: string;
  description: string;
  detail?: string;
  /** Rows are grouped under these headings, in this order. */
  group: 'overall' | 'language' | 'source' | 'storage';
}

/** "42%" (whole percent; one decimal below 10% so a small rate does not read as 0%). */
export function formatRate(rate: number): string {
  const percent = Math.max(0, Math.min(1, rate)) * 100;
  if (percent > 0 && percent < 10) {
    return `${percent.toFixed(1)}%`;
  }
  return `${Math.round(percent)}%`;
}

/** "12 shown · 3 accepted, 2 in part (42%) · 140 chars". */
export function formatCounts(counts: StatsCounts): string {
  const partly = counts.partiallyAccepted > 0 ? `, ${counts.partiallyAccepted} in part` : '';
  return (
    `${counts.shown} shown · ${counts.accepted} accepted${partly} ` +
    `(${formatRate(counts.acceptanceRate)}) · ${counts.acceptedChars} chars`
  );
}

/** "p50 42 ms · p95 181 ms (30 samples)", or that nothing was measured yet. */
export function formatLatency(latency: StatsResult['latencyMs']): string {
  if (latency.samples === 0 || latency.p50 === null || latency.p95 === null) {
    return 'no suggestion measured since the server started';
  }
  const samples = latency.samples === 1 ? '1 sample' : `${latency.samples} samples`;
  return `p50 ${Math.round(latency.p50)} ms · p95 ${Math.round(latency.p95)} ms (${samples})`;
}

/** One line for the menu entry and the status bar tooltip. */
export function statsSummary(stats: StatsResult): string {
  const { overall } = stats;
  if (overall.shown === 0) {
    return 'no suggestion shown yet';
  }
  const taken = overall.accepted + overall.partiallyAccepted;
  return `${formatRate(overall.acceptanceRate)} accepted (${taken} of ${overall.shown} shown)`;
}

/** The source names the server uses, in words. */
const SOURCE_NAMES: Record<string, string> = {
  model: 'written by the model',
  typedAhead: 'continued while typing',
  cache: 'from the cache',
};

/** Every row of the statistics list, the busiest language and source first. */
export function statsRows(stats: StatsResult): StatsRow[] {
  const rows: StatsRow[] = [
    { label: 'All languages', description: formatCounts(stats.overall), group: 'overall' },
    {
      label: 'Latency',
      description: formatLatency(stats.latencyMs),
      group: 'overall',
      detail: 'time to the first text of a suggestion, since the server started',
    },
  ];
  for (const [language, counts] of busiestFirst(stats.byLanguage)) {
    rows.push({ label: language, description: formatCounts(counts), group: 'language' });
  }
  for (const [source, counts] of busiestFirst(stats.bySource ?? {})) {
    rows.push({
      label: SOURCE_NAMES[source] ?? source,
      description: formatCounts(counts),
      group: 'source',
    });
  }
  rows.push(
    stats.persisted
      ? { label: 'Kept across restarts', description: stats.path ?? '', group: 'storage' }
      : {
          label: 'Not kept across restarts',
          description: 'stats.persist is off, or the file cannot be written',
          group: 'storage',
        },
  );
  return rows;
}

function busiestFirst(table: Record<string, StatsCounts>): Array<[string, StatsCounts]> {
  return Object.entries(table).sort(([a, x], [b, y]) => y.shown - x.shown || a.localeCompare(b));
}
