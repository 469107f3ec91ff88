"""Synthetic card transactions and pump sensor readings, with realistic fraud and fault
patterns. Used to train the models and to write the golden fixtures; fixed seeds make every
run identical."""
import json
from pathlib import Path

import numpy as np

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"

# Merchant category codes (ISO 18245) with their share of legitimate traffic and a typical
# amount (median, EUR). The last five are the categories fraudsters favour.
MCC = {
    5411: ("grocery", 0.24, 35.0), 5812: ("restaurants", 0.14, 28.0), 5541: ("fuel", 0.10, 55.0),
    5912: ("pharmacy", 0.06, 18.0), 5311: ("department stores", 0.08, 60.0), 4111: ("transit", 0.09, 3.5),
    5999: ("misc retail", 0.08, 40.0), 4814: ("telecom", 0.04, 30.0), 5814: ("fast food", 0.09, 11.0),
    7995: ("gambling", 0.01, 50.0), 4829: ("money transfer", 0.01, 150.0), 5944: ("jewellery", 0.02, 180.0),
    5732: ("electronics", 0.03, 220.0), 5947: ("gift cards", 0.01, 50.0),
}
RISKY_MCC = [7995, 4829, 5944, 5732, 5947]
CHANNELS = next(f for f in json.loads((SCHEMAS / "card-transaction.avsc").read_text())["fields"] if f["name"] == "channel")["type"]["symbols"]
COUNTRIES_HOME = ["DE", "FR", "NL", "ES", "IT"]
COUNTRIES_FAR = ["US", "BR", "NG", "RU", "TH", "CN", "MX", "ID"]

FRAUD_FEATURES = ["amount", "hourOfDay", "merchantCategory", "channel", "distanceFromHomeKm",
                  "txCount1h", "txCount24h", "amountToAvgRatio", "foreignCountry", "knownDevice"]
SENSOR_FEATURES = ["temperatureC", "vibrationMmS", "pressureKpa", "currentA"]


def _legit_hours(rng, n):
    # Daytime-heavy: a mixture peaking at lunch and early evening, little at night.
    hours = np.where(rng.random(n) < 0.55, rng.normal(12.5, 2.5, n), rng.normal(18.5, 2.0, n))
    night = rng.random(n) < 0.04
    hours = np.where(night, rng.uniform(0, 6, n), hours)
    return np.clip(np.round(hours), 0, 23).astype(int) % 24


def transactions(n, fraud_rate, seed):
    """Returns a list of dicts (CardTransaction fields plus eventTime in ms) and the labels."""
    rng = np.random.default_rng(seed)
    codes = np.array(list(MCC))
    shares = np.array([MCC[c][1] for c in codes]); shares = shares / shares.sum()
    is_fraud = rng.random(n) < fraud_rate
    mcc = rng.choice(codes, n, p=shares)
    median = np.array([MCC[c][2] for c in mcc])
    amount = np.round(median * rng.lognormal(0, 0.6, n), 2)
    hour = _legit_hours(rng, n)
    channel = rng.choice(len(CHANNELS), n, p=[0.62, 0.30, 0.06, 0.02])
    foreign = rng.random(n) < 0.04
    distance = np.where(foreign, rng.lognormal(6.5, 0.8, n), rng.lognormal(1.6, 1.0, n))
    tx1h = 1 + rng.poisson(0.25, n)
    tx24h = tx1h + rng.poisson(2.5, n)
    ratio = rng.lognormal(0, 0.5, n)
    known = rng.random(n) < 0.93
    # Travellers: legitimate transactions that look a bit like fraud, so the task is not trivial.
    travel = (~is_fraud) & (rng.random(n) < 0.03)
    distance = np.where(travel, rng.lognormal(7.0, 0.7, n), distance)
    foreign = foreign | travel
    hour = np.where(travel & (rng.random(n) < 0.3), rng.integers(0, 6, n), hour)

    # Fraud patterns, one per fraudulent transaction (with some noise between them).
    pattern = rng.choice(4, n, p=[0.3, 0.25, 0.3, 0.15])
    f = is_fraud
    burst, odd_place, risky, testing = (f & (pattern == k) for k in range(4))
    # (a) bursts of velocity: many online purchases within the hour.
    tx1h = np.where(burst, rng.integers(4, 16, n), tx1h)
    tx24h = np.where(burst, tx1h + rng.integers(3, 25, n), tx24h)
    channel = np.where(burst, 1, channel)
    known = np.where(burst, rng.random(n) < 0.3, known)
    # (b) unusual hour far from home, often abroad.
    hour = np.where(odd_place, rng.integers(0, 6, n), hour)
    distance = np.where(odd_place, rng.lognormal(7.5, 0.9, n), distance)
    foreign = np.where(odd_place, rng.random(n) < 0.75, foreign)
    # (c) risky merchant categories with an amount spike.
    mcc = np.where(risky, rng.choice(RISKY_MCC, n), mcc)
    ratio = np.where(risky, rng.lognormal(2.2, 0.6, n), ratio)
    amount = np.where(risky, np.round(np.array([MCC[c][2] for c in mcc]) * rng.lognormal(1.5, 0.6, n), 2), amount)
    known = np.where(risky, rng.random(n) < 0.4, known)
    # (d) card testing: tiny online amounts, fast.
    amount = np.where(testing, np.round(rng.uniform(0.5, 3.0, n), 2), amount)
    tx1h = np.where(testing, rng.integers(3, 10, n), tx1h)
    tx24h = np.where(testing, tx1h + rng.integers(0, 6, n), tx24h)
    channel = np.where(testing, 1, channel)
    ratio = np.where(testing, rng.uniform(0.01, 0.1, n), ratio)

    base_ms = 1_767_225_600_000  # 2026-01-01T00:00:00Z
    day = rng.integers(0, 60, n)
    minute = rng.integers(0, 3600_000, n)
    event_ms = base_ms + day * 86_400_000 + hour * 3_600_000 + minute
    cards = rng.integers(0, 4000, n)
    events = []
    for i in range(n):
        events.append({
            "transactionId": f"tx-{seed}-{i:07d}",
            "cardId": f"card-{cards[i]:05d}",
            "accountId": f"acct-{cards[i] // 2:05d}",
            "eventTime": int(event_ms[i]),
            "amount": float(max(amount[i], 0.01)),
            "currency": "EUR",
            "merchantId": f"m-{int(mcc[i])}-{rng.integers(0, 500):03d}",
            "merchantCategory": int(mcc[i]),
            "channel": CHANNELS[int(channel[i])],
            "country": str(rng.choice(COUNTRIES_FAR)) if foreign[i] else str(rng.choice(COUNTRIES_HOME)),
            "foreignCountry": bool(foreign[i]),
            "distanceFromHomeKm": float(round(distance[i], 2)),
            "txCount1h": int(tx1h[i]),
            "txCount24h": int(max(tx24h[i], tx1h[i])),
            "amountToAvgRatio": float(round(ratio[i], 4)),
            "knownDevice": bool(known[i]),
        })
    return events, is_fraud.astype(int)


def fraud_matrix(events):
    """Feature rows in FRAUD_FEATURES order, exactly as streamscore's feature mapping builds
    them: enums as their symbol index, booleans as 0/1, hourOfDay from eventTime (UTC)."""
    rows = np.empty((len(events), len(FRAUD_FEATURES)), dtype=np.float32)
    for i, e in enumerate(events):
        rows[i] = [e["amount"], (e["eventTime"] // 3_600_000) % 24, e["merchantCategory"], CHANNELS.index(e["channel"]),
                   e["distanceFromHomeKm"], e["txCount1h"], e["txCount24h"], e["amountToAvgRatio"],
                   1.0 if e["foreignCountry"] else 0.0, 1.0 if e["knownDevice"] else 0.0]
    return rows


def sensor_readings(n, anomaly_rate, seed):
    """Pump readings driven by a hidden load, so the channels move together; anomalies break
    that: drifts (temperature creeping up at normal load), spikes (vibration bursts) and stuck
    sensors (a channel frozen while the others follow the load)."""
    rng = np.random.default_rng(seed)
    load = np.clip(rng.beta(4, 2.5, n), 0.05, 1.0)
    ambient = rng.normal(22, 3, n)
    temperature = ambient + 28 * load + rng.normal(0, 1.2, n)
    vibration = 1.2 + 3.0 * load + rng.gamma(2.0, 0.15, n)
    pressure = 180 + 420 * load + rng.normal(0, 12, n)
    current = 8 + 34 * load + rng.normal(0, 0.9, n)
    anomalous = rng.random(n) < anomaly_rate
    kind = rng.choice(3, n, p=[0.35, 0.35, 0.30])
    drift, spike, stuck = (anomalous & (kind == k) for k in range(3))
    temperature = np.where(drift, temperature + rng.uniform(9, 25, n), temperature)
    vibration = np.where(spike, vibration * rng.uniform(2.5, 6.0, n), vibration)
    which = rng.integers(0, 3, n)
    pressure = np.where(stuck & (which == 0), rng.choice([0.0, 1013.0], n), pressure)
    current = np.where(stuck & (which == 1), 0.0, current)
    temperature = np.where(stuck & (which == 2), rng.choice([-40.0, 150.0], n), temperature)
    base_ms = 1_767_225_600_000
    devices = rng.integers(0, 200, n)
    events = []
    for i in range(n):
        events.append({
            "deviceId": f"pump-{devices[i]:03d}",
            "site": f"plant-{devices[i] % 5}",
            "eventTime": int(base_ms + i * 1000),
            "temperatureC": float(round(temperature[i], 3)),
            "vibrationMmS": float(round(vibration[i], 4)),
            "pressureKpa": float(round(pressure[i], 2)),
            "currentA": float(round(current[i], 3)),
            "firmware": "2.4.1",
        })
    return events, anomalous.astype(int)


def sensor_matrix(events):
    return np.array([[e[k] for k in SENSOR_FEATURES] for e in events], dtype=np.float32)
