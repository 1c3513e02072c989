import sys
from confluent_kafka import Producer, Consumer, TopicPartition
bs = "127.0.0.1:" + sys.argv[1]
p = Producer({"bootstrap.servers": bs, "client.id": "ck-producer", "acks": "all"})
p.produce("golden", key=b"ck-key", value=b"ck-value")
p.flush(5)
c = Consumer({"bootstrap.servers": bs, "group.id": "ck-group", "client.id": "ck-consumer",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
print(c.list_topics(timeout=5).topics.keys())
print(c.get_watermark_offsets(TopicPartition("golden", 0), timeout=5))
print(c.offsets_for_times([TopicPartition("golden", 0, 1600000000000)], timeout=5))
c.subscribe(["golden"])
for _ in range(6):
    m = c.poll(0.5)
c.commit(offsets=[TopicPartition("golden", 0, 5)], asynchronous=False)
c.close()
