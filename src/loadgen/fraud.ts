import { Random } from './random.js';

/**
 * Card transactions with the same legitimate behaviour and fraud patterns as the model's
 * training data (models/datagen.py), so alert precision and recall on a generated stream
 * can be held against the model card.
 */
const MCC: Record<number, { share: number; medianAmount: number }> = {
  5411: { share: 0.24, medianAmount: 35 }, 5812: { share: 0.14, medianAmount: 28 }, 5541: { share: 0.1, medianAmount: 55 },
  5912: { share: 0.06, medianAmount: 18 }, 5311: { share: 0.08, medianAmount: 60 }, 4111: { share: 0.09, medianAmount: 3.5 },
  5999: { share: 0.08, medianAmount: 40 }, 4814: { share: 0.04, medianAmount: 30 }, 5814: { share: 0.09, medianAmount: 11 },
  7995: { share: 0.01, medianAmount: 50 }, 4829: { share: 0.01, medianAmount: 150 }, 5944: { share: 0.02, medianAmount: 180 },
  5732: { share: 0.03, medianAmount: 220 }, 5947: { share: 0.01, medianAmount: 50 },
};
const CODES = Object.keys(MCC).map(Number);
const SHARES = CODES.map((c) => MCC[c]!.share);
const RISKY_MCC = [7995, 4829, 5944, 5732, 5947];
const CHANNELS = ['POS', 'ECOM', 'ATM', 'MOTO'] as const;
const HOME = ['DE', 'FR', 'NL', 'ES', 'IT'];
const FAR = ['US', 'BR', 'NG', 'RU', 'TH', 'CN', 'MX', 'ID'];
const HOUR_MS = 3_600_000;

export interface CardTransaction {
  transactionId: string;
  cardId: string;
  accountId: string;
  eventTime: number;
  amount: number;
  currency: string;
  merchantId: string;
  merchantCategory: number;
  channel: (typeof CHANNELS)[number];
  country: string;
  foreignCountry: boolean;
  distanceFromHomeKm: number;
  txCount1h: number;
  txCount24h: number;
  amountToAvgRatio: number;
  knownDevice: boolean;
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits;

function legitHour(rng: Random): number {
  if (rng.chance(0.04)) return Math.min(23, Math.round(rng.uniform(0, 6))) % 24;
  const h = rng.chance(0.55) ? rng.normal(12.5, 2.5) : rng.normal(18.5, 2);
  return Math.min(23, Math.max(0, Math.round(h))) % 24;
}

export function transactionGenerator(seed: number, fraudRate = 0.02, idPrefix = 'tx') {
  const rng = new Random(seed);
  let i = 0;
  return (nowMs: number): { event: CardTransaction; fraud: boolean } => {
    const fraud = rng.chance(fraudRate);
    let mcc = rng.pick(CODES, SHARES);
    let amount = round(MCC[mcc]!.medianAmount * rng.lognormal(0, 0.6), 2);
    let hour = legitHour(rng);
    let channel = rng.pick([0, 1, 2, 3], [0.62, 0.3, 0.06, 0.02]);
    let foreign = rng.chance(0.04);
    let distance = foreign ? rng.lognormal(6.5, 0.8) : rng.lognormal(1.6, 1);
    let tx1h = 1 + rng.poisson(0.25);
    let tx24h = tx1h + rng.poisson(2.5);
    let ratio = rng.lognormal(0, 0.5);
    let known = rng.chance(0.93);
    if (!fraud && rng.chance(0.03)) {
      // A traveller: legitimate, but far away and sometimes at night.
      distance = rng.lognormal(7, 0.7);
      foreign = true;
      if (rng.chance(0.3)) hour = rng.int(0, 6);
    }
    if (fraud) {
      const pattern = rng.pick([0, 1, 2, 3], [0.3, 0.25, 0.3, 0.15]);
      if (pattern === 0) { // velocity burst of online purchases
        tx1h = rng.int(4, 16); tx24h = tx1h + rng.int(3, 25); channel = 1; known = rng.chance(0.3);
      } else if (pattern === 1) { // night, far from home
        hour = rng.int(0, 6); distance = rng.lognormal(7.5, 0.9); foreign = rng.chance(0.75);
      } else if (pattern === 2) { // risky merchant with an amount spike
        mcc = rng.pick(RISKY_MCC); ratio = rng.lognormal(2.2, 0.6); amount = round(MCC[mcc]!.medianAmount * rng.lognormal(1.5, 0.6), 2); known = rng.chance(0.4);
      } else { // card testing
        amount = round(rng.uniform(0.5, 3), 2); tx1h = rng.int(3, 10); tx24h = tx1h + rng.int(0, 6); channel = 1; ratio = rng.uniform(0.01, 0.1);
      }
    }
    // The event's hour of day (UTC) carries the pattern; the day is today's.
    const eventTime = Math.floor(nowMs / (24 * HOUR_MS)) * 24 * HOUR_MS + hour * HOUR_MS + rng.int(0, HOUR_MS);
    const card = rng.int(0, 4000);
    const id = i++;
    return {
      fraud,
      event: {
        transactionId: `${idPrefix}-${id}`,
        cardId: `card-${String(card).padStart(5, '0')}`,
        accountId: `acct-${String(card >> 1).padStart(5, '0')}`,
        eventTime,
        amount: Math.max(amount, 0.01),
        currency: 'EUR',
        merchantId: `m-${mcc}-${String(rng.int(0, 500)).padStart(3, '0')}`,
        merchantCategory: mcc,
        channel: CHANNELS[channel]!,
        country: foreign ? rng.pick(FAR) : rng.pick(HOME),
        foreignCountry: foreign,
        distanceFromHomeKm: round(distance, 2),
        txCount1h: tx1h,
        txCount24h: Math.max(tx24h, tx1h),
        amountToAvgRatio: round(ratio, 4),
        knownDevice: known,
      },
    };
  };
}
