import { describe, expect, it } from 'vitest';
import pino from 'pino';
import { StreamscoreError } from '../../src/errors.js';
import { Backoff } from '../../src/util/backoff.js';
import { TroubleReporter } from '../../src/util/trouble.js';

function reporter() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (l: string) => { const { level, msg } = JSON.parse(l) as { level: number; msg: string }; lines.push({ level, msg }); } });
  const retries: string[] = [];
  const reports: (string | undefined)[] = [];
  const trouble = new TroubleReporter({ logger, unready: 'the partition', onRetry: (e) => retries.push(e.code), onTrouble: (e) => reports.push(e?.code) });
  return { trouble, lines, retries, reports };
}

describe('TroubleReporter', () => {
  const err = new StreamscoreError('KAFKA_REQUEST_FAILED', 'timed out');

  it('counts every failure, reports once when the budget is spent, and withdraws the report when it works again', () => {
    const { trouble, lines, retries, reports } = reporter();
    const backoff = new Backoff({ initialMs: 10, maxMs: 40, budget: 3 });
    const delays = [1, 2, 3, 4].map(() => trouble.failed(err, backoff, 'reading failed'));
    expect(delays).toEqual([10, 20, 40, 40]);
    expect(retries).toHaveLength(4);
    expect(reports).toEqual(['KAFKA_REQUEST_FAILED']);
    expect(lines.filter((l) => l.level === 50).map((l) => l.msg)).toEqual(['reading failed: still failing; the partition is reported unready until it works again']);
    expect(lines.filter((l) => l.level === 20)).toHaveLength(3);
    trouble.recovered('works again');
    trouble.recovered('works again');
    expect(reports).toEqual(['KAFKA_REQUEST_FAILED', undefined]);
    expect(lines.filter((l) => l.level === 30).map((l) => l.msg)).toEqual(['works again']);
  });

  it('withdraws a report without a line when its owner closes, and does nothing when there is none', () => {
    const { trouble, lines, reports } = reporter();
    trouble.withdraw();
    const backoff = new Backoff({ initialMs: 1, maxMs: 1, budget: 1 });
    trouble.failed(err, backoff, 'opening failed');
    trouble.withdraw();
    expect(reports).toEqual(['KAFKA_REQUEST_FAILED', undefined]);
    expect(lines.filter((l) => l.level === 30)).toHaveLength(0);
  });
});
