import sys, logging
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
bs = "127.0.0.1:" + sys.argv[1]
p = KafkaProducer(bootstrap_servers=bs, client_id="kp-producer", acks=1)
print(p.send("golden", key=b"kp-key", value=b"kp-value").get(timeout=10))
p.close()
c = KafkaConsumer("golden", bootstrap_servers=bs, client_id="kp-consumer", group_id="kp-group",
                  auto_offset_reset="earliest", enable_auto_commit=False,
                  consumer_timeout_ms=3000)
for m in c:
    pass
print(c.end_offsets([TopicPartition("golden", 0)]))
c.commit({TopicPartition("golden", 0): OffsetAndMetadata(3, "kp-meta")})
c.close()
