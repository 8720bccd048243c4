// `rill/stats` in words: the summary line, the rate, latency, and the rows by language and source.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { StatsResult } from '../src/protocol';
import { formatCounts, formatLatency, formatRate, statsRows, statsSummary } from '../src/statsModel';

const counts = (shown: number, accepted: number, partiallyAccepted: number, acceptedChars: number) => ({
  shown,
  accepted,
  partiallyAccepted,
  acceptedChars,
  acceptanceRate: shown === 0 ? 0 : (accepted + partiallyAccepted) / shown,
});

const STATS: StatsResult = {
  overall: counts(12, 3, 2, 140),
  byLanguage: { rust: counts(2, 0, 0, 0), python: counts(10, 3, 2, 140) },
  bySource: { model: counts(9, 2, 2, 100), cache: counts(3, 1, 0, 40) },
  latencyMs: { p50: 42, p95: 180.5, samples: 30 },
  persisted: true,
  path: '/home/u/.local/share/rill/stats.json',
};

test('rates, counts and latency read naturally', () => {
  assert.equal(formatRate(0.4167), '42%');
  assert.equal(formatRate(0.05), '5.0%');
  assert.equal(formatRate(0), '0%');
  assert.equal(formatCounts(STATS.overall), '12 shown · 3 accepted, 2 in part (42%) · 140 chars');
  assert.equal(formatCounts(counts(2, 0, 0, 0)), '2 shown · 0 accepted (0%) · 0 chars');
  assert.equal(formatLatency(STATS.latencyMs), 'p50 42 ms · p95 181 ms (30 samples)');
  assert.match(formatLatency({ p50: null, p95: null, samples: 0 }), /no suggestion measured/);
});

test('the summary gives the rate and how many were taken of how many shown', () => {
  assert.equal(statsSummary(STATS), '42% accepted (5 of 12 shown)');
  assert.equal(statsSummary({ ...STATS, overall: counts(0, 0, 0, 0) }), 'no suggestion shown yet');
});

test('rows: overall and latency, then languages and sources busiest first, then storage', () => {
  const rows = statsRows(STATS);
  assert.deepEqual(
    rows.map((row) => [row.group, row.label]),
    [
      ['overall', 'All languages'],
      ['overall', 'Latency'],
      ['language', 'python'],
      ['language', 'rust'],
      ['source', 'written by the model'],
      ['source', 'from the cache'],
      ['storage', 'Kept across restarts'],
    ],
  );
  assert.equal(rows[6]?.description, STATS.path);
  const unsaved = statsRows({ ...STATS, bySource: undefined, persisted: false, path: undefined });
  assert.equal(unsaved[unsaved.length - 1]?.label, 'Not kept across restarts');
});
