"""The same job as streamscore, as a competent Python user would write it: confluent-kafka
(librdkafka) with a transactional producer and KIP-447 offsets, the Confluent Avro serdes
through the schema registry, and onnxruntime on each consumed batch.

    python peer.py --brokers B --registry URL --input T --scored T --alerts T --group G --expect N
"""
import argparse
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

CHANNELS = ["POS", "ECOM", "ATM", "MOTO"]
COLUMNS = ["amount", "hourOfDay", "merchantCategory", "channel", "distanceFromHomeKm", "txCount1h", "txCount24h", "amountToAvgRatio", "foreignCountry", "knownDevice"]


def features(e):
    return [float(e["amount"]), (e["eventTime"] // 3_600_000) % 24, e["merchantCategory"], CHANNELS.index(e["channel"]), e["distanceFromHomeKm"],
            e["txCount1h"], e["txCount24h"], e["amountToAvgRatio"], 1.0 if e["foreignCountry"] else 0.0, 1.0 if e["knownDevice"] else 0.0]


def main():
    p = argparse.ArgumentParser()
    for a in ("brokers", "registry", "input", "scored", "alerts", "group", "schemas", "model"):
        p.add_argument(f"--{a}", required=True)
    p.add_argument("--expect", type=int, required=True)
    p.add_argument("--threshold", type=float, default=0.342336)
    args = p.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    # fastavro gives timestamps as datetimes unless told otherwise; keep epoch millis.
    decode = AvroDeserializer(registry, open(f"{args.schemas}/card-transaction.avsc").read(), return_record_name=False)
    scored_ser = AvroSerializer(registry, open(f"{args.schemas}/scored-transaction.avsc").read(), conf={"auto.register.schemas": True})
    alert_ser = AvroSerializer(registry, open(f"{args.schemas}/fraud-alert.avsc").read(), conf={"auto.register.schemas": True})
    session = ort.InferenceSession(args.model, providers=["CPUExecutionProvider"], sess_options=_one_thread())

    consumer = Consumer({"bootstrap.servers": args.brokers, "group.id": args.group, "enable.auto.commit": False,
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest"})
    producer = Producer({"bootstrap.servers": args.brokers, "transactional.id": f"{args.group}-peer", "linger.ms": 5})
    producer.init_transactions()
    consumer.subscribe([args.input])
    done = 0
    started = None
    while done < args.expect:
        batch = consumer.consume(num_messages=1000, timeout=0.5)
        if not batch:
            continue
        started = started or time.time()
        records, keep = [], []
        for m in batch:
            if m.error():
                raise KafkaException(m.error())
            e = decode(m.value(), SerializationContext(m.topic(), MessageField.VALUE))
            e["eventTime"] = _millis(e["eventTime"])
            records.append(e)
            keep.append(m)
        scores = session.run(["score"], {"features": np.asarray([features(e) for e in records], dtype=np.float32)})[0]
        producer.begin_transaction()
        now = int(time.time() * 1000)
        for m, e, s in zip(keep, records, scores):
            out = {**{k: e[k] for k in ("transactionId", "cardId", "eventTime", "amount", "currency")},
                   "score": float(s), "alert": bool(s >= args.threshold), "threshold": args.threshold,
                   "model": {"name": "fraud-gbdt", "version": "1.0.0"}, "source": {"topic": m.topic(), "partition": m.partition(), "offset": m.offset()},
                   "scoredAt": now}
            producer.produce(args.scored, key=m.key(), value=scored_ser(out, SerializationContext(args.scored, MessageField.VALUE)))
            if out["alert"]:
                alert = {**out, "accountId": e["accountId"], "merchantId": e["merchantId"], "merchantCategory": e["merchantCategory"], "country": e["country"]}
                producer.produce(args.alerts, key=m.key(), value=alert_ser(alert, SerializationContext(args.alerts, MessageField.VALUE)))
        offsets = {}
        for m in keep:
            offsets[(m.topic(), m.partition())] = m.offset() + 1
        producer.send_offsets_to_transaction([TopicPartition(t, p, o) for (t, p), o in offsets.items()], consumer.consumer_group_metadata())
        producer.commit_transaction()
        done += len(batch)
    elapsed = time.time() - started
    consumer.close()
    print(json.dumps({"processed": done, "seconds": round(elapsed, 2), "perSec": round(done / elapsed)}))


def _one_thread():
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    return o


def _millis(t):
    return int(t.timestamp() * 1000) if hasattr(t, "timestamp") else int(t)


if __name__ == "__main__":
    sys.exit(main())
