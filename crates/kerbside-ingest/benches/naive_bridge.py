#!/usr/bin/env python3
"""The naive MQTT -> Kafka bridge that kerbside ingest is compared with.

What a council analyst would script with off-the-shelf clients: paho-mqtt 2.x and
confluent-kafka 2.x (whose wheel bundles librdkafka 2.16, which current brokers answer; Debian's
librdkafka 2.0 and so kcat do not). Each message is forwarded as it is:

* no validation, no enrichment, no dead-letter topic, no duplicate detection;
* no acknowledgement discipline: paho sends the PUBACK as soon as on_message returns,
  and produce() is fire-and-forget (no delivery report is looked at), so a message is
  acknowledged to the broker while it is still only in this process's memory, and a
  crash or a Kafka outage loses it;
* the clients' defaults: MQTT 3.1.1 with a clean session, the producer's own batching.

Setup (the benchmark looks for this interpreter):
    python3 -m venv target/bench-venv
    target/bench-venv/bin/pip install paho-mqtt==2.2.0 confluent-kafka==2.16.1

Used by crates/kerbside-ingest/benches/ingest.rs, which reads its standard output:
    ready          once the broker has granted the subscriptions
    done COUNT     when COUNT messages have been forwarded and the producer flushed
                   (every record so far delivered); one line per --report-at count
It runs until killed.
"""

import argparse
import sys

import paho.mqtt.client as mqtt
from confluent_kafka import Producer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mqtt", default="127.0.0.1:18830", help="MQTT broker HOST:PORT")
    ap.add_argument("--kafka", default="127.0.0.1:19092", help="Kafka bootstrap servers")
    ap.add_argument("--topic", required=True, help="Kafka topic to forward to")
    ap.add_argument("--filter", action="append", required=True, help="MQTT topic filter (repeatable)")
    ap.add_argument("--client-id", default="naive-bridge")
    ap.add_argument("--report-at", default="", help="comma-separated message counts at which to flush and print 'done COUNT'")
    args = ap.parse_args()

    host, port = args.mqtt.rsplit(":", 1)
    producer = Producer({"bootstrap.servers": args.kafka})
    report_at = sorted(n for n in (int(x) for x in args.report_at.split(",") if x) if n > 0)
    forwarded = 0

    def on_connect(client, userdata, flags, reason_code, properties):
        client.subscribe([(f, 1) for f in args.filter])

    def on_subscribe(client, userdata, mid, reason_codes, properties):
        print("ready", flush=True)

    def on_message(client, userdata, msg):
        nonlocal forwarded
        while True:
            try:
                producer.produce(args.topic, value=msg.payload, key=msg.topic)
                break
            except BufferError:  # librdkafka's local queue is full: wait for room
                producer.poll(0.1)
        producer.poll(0)  # serve delivery callbacks (none registered), as the docs advise
        forwarded += 1
        if report_at and forwarded == report_at[0]:
            report_at.pop(0)
            producer.flush()
            print(f"done {forwarded}", flush=True)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=args.client_id)
    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect(host, int(port))
    client.loop_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
