#!/bin/sh
# responder_test.sh RESPONDER [KAFKAJS_DIR] — real clients against a fake broker whose bytes all come from
# the C codec (tests/golden/responder.c). Passes when: kcat lists the topic; kcat, kafka-python
# and confluent-kafka produce and get their offsets back (Produce v7 responses parse); kcat
# produces with acks=0 (no response expected); kafka-python's ApiVersions v0 / Metadata v0-1
# path works; watermarks (ListOffsets) match; kafkajs produces too when
# KAFKAJS_DIR (tests/integration/js/node_modules/kafkajs) exists; then kcat (Fetch v11) and kafka-python (Fetch v4)
# read every message back; a confluent-kafka group consumer and kcat -G join a one-member
# group, consume, commit, and read their commit back. Loopback only.
set -eu
RESPONDER=$1
KAFKAJS=${2:-/nonexistent}
DIR=$(mktemp -d /tmp/trial_responder_XXXXXX)
"$RESPONDER" --seconds 60 > "$DIR/log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in 1 2 3 4 5 6 7 8 9 10; do
    grep -q '^PORT' "$DIR/log" && break
    sleep 0.2
done
PORT=$(awk '/^PORT/{print $2}' "$DIR/log")
B=127.0.0.1:$PORT
fail() { echo "FAIL: $*"; cat "$DIR/log"; exit 1; }

timeout 20 kcat -b "$B" -L > "$DIR/kcat_L" 2>&1 || fail "kcat -L"
grep -q 'topic "golden" with 1 partitions' "$DIR/kcat_L" || fail "kcat -L output"
echo one | timeout 20 kcat -b "$B" -P -t golden -X acks=all 2> "$DIR/kcat_P" \
    || fail "kcat -P acks=all"
! grep -qi error "$DIR/kcat_P" || fail "kcat -P reported an error"
echo two | timeout 20 kcat -b "$B" -P -t golden -X acks=0 2> "$DIR/kcat_P0" \
    || fail "kcat -P acks=0"

timeout 30 /usr/bin/python3 - "$B" > "$DIR/kp" 2>&1 <<'PY' || fail "kafka-python: $(cat "$DIR/kp")"
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
p = KafkaProducer(bootstrap_servers=sys.argv[1], acks=1)
md = p.send("golden", b"kp").get(timeout=10)
assert md.topic == "golden" and md.partition == 0 and md.offset >= 0, md
p.close()
c = KafkaConsumer(bootstrap_servers=sys.argv[1])
tp = TopicPartition("golden", 0)
assert c.end_offsets([tp])[tp] >= 2, c.end_offsets([tp])
c.close()
print("kafka-python ok", md.offset)
PY

timeout 30 /usr/bin/python3 - "$B" > "$DIR/ck" 2>&1 <<'PY' || fail "confluent-kafka: $(cat "$DIR/ck")"
import sys
from confluent_kafka import Producer, Consumer, TopicPartition
errors, offsets = [], []
def cb(err, msg):
    (errors.append(err) if err else offsets.append(msg.offset()))
p = Producer({"bootstrap.servers": sys.argv[1], "acks": "all"})
p.produce("golden", b"ck", on_delivery=cb)
assert p.flush(10) == 0
assert not errors and offsets and offsets[0] >= 0, (errors, offsets)
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "g"})
lo, hi = c.get_watermark_offsets(TopicPartition("golden", 0), timeout=10)
assert lo == 0 and hi >= 3, (lo, hi)
print("confluent-kafka ok", offsets)
PY

if [ -d "$KAFKAJS" ]; then
    cat > "$DIR/kjs.js" <<'JS'
const { Kafka, logLevel } = require(process.argv[3])
const kafka = new Kafka({ clientId: 'kjs', brokers: [process.argv[2]], logLevel: logLevel.NOTHING })
const p = kafka.producer()
p.connect().then(() => p.send({ topic: 'golden', messages: [{ value: 'kjs' }] }))
  .then(r => { if (r[0].errorCode !== 0) throw new Error('errorCode'); console.log('kafkajs ok', r[0].baseOffset); return p.disconnect() })
  .then(() => process.exit(0), e => { console.log('kafkajs', e.message); process.exit(1) })
JS
    timeout 30 node "$DIR/kjs.js" "$B" "$KAFKAJS" > "$DIR/kjs" 2>&1 || fail "kafkajs: $(cat "$DIR/kjs")"
else
    [ -z "${CI:-}" ] || fail "kafkajs missing in $KAFKAJS (run scripts/install-deps)"
    echo "kafkajs not installed in $KAFKAJS: skipped"
fi
# Read everything back: Fetch responses carrying the stored batches (CRC checked by librdkafka).
timeout 20 kcat -b "$B" -C -t golden -o beginning -e -q > "$DIR/kcat_C" 2>&1 || fail "kcat -C"
for v in one two kp ck; do
    grep -qx "$v" "$DIR/kcat_C" || fail "kcat -C did not read back '$v': $(cat "$DIR/kcat_C")"
done
timeout 30 /usr/bin/python3 - "$B" > "$DIR/kpc" 2>&1 <<'PY' || fail "kafka-python consumer: $(cat "$DIR/kpc")"
import sys
from kafka import KafkaConsumer, TopicPartition
c = KafkaConsumer(bootstrap_servers=sys.argv[1], consumer_timeout_ms=5000,
                  auto_offset_reset="earliest")
c.assign([TopicPartition("golden", 0)])
values = [m.value for m in c]
assert b"kp" in values and b"ck" in values, values
print("kafka-python consumer ok", values)
PY
# A consumer group: FindCoordinator, JoinGroup, SyncGroup, OffsetFetch, Heartbeat, OffsetCommit,
# LeaveGroup answered by the codec; the committed offset must come back from OffsetFetch.
timeout 40 /usr/bin/python3 - "$B" > "$DIR/ckg" 2>&1 <<'PY' || fail "confluent group: $(cat "$DIR/ckg")"
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "grp", "auto.offset.reset": "earliest",
              "enable.auto.commit": False, "isolation.level": "read_committed"})
c.subscribe(["golden"])
values = []
for _ in range(40):
    m = c.poll(0.25)
    if m is not None and not m.error():
        values.append(m.value())
        if len(values) == 5:
            break
assert b"kp" in values and b"ck" in values, values
c.commit(asynchronous=False)
committed = c.committed([TopicPartition("golden", 0)], timeout=10)
assert committed[0].offset == 5, committed
c.close()
print("confluent-kafka group ok", values, committed[0].offset)
PY
timeout 30 kcat -b "$B" -G kgrp golden -X auto.offset.reset=earliest -e -q > "$DIR/kcat_G" 2>&1 || fail "kcat -G: $(cat "$DIR/kcat_G")"
grep -qx kjs "$DIR/kcat_G" || fail "kcat -G did not read 'kjs': $(cat "$DIR/kcat_G")"
cat "$DIR/kp" "$DIR/ck" "$DIR/kjs" "$DIR/kpc" "$DIR/ckg" 2>/dev/null || true
grep -c answered "$DIR/log" | sed 's/^/requests answered by the C codec: /'
echo PASS
