import sys
from confluent_kafka import Producer, Consumer, TopicPartition
bs = "127.0.0.1:" + sys.argv[1]
p = Producer({"bootstrap.servers": bs, "client.id": "ck-txn", "transactional.id": "ck-tid"})
p.init_transactions(10)
p.begin_transaction()
p.produce("golden", key=b"tk", value=b"tv")
c = Consumer({"bootstrap.servers": bs, "group.id": "ck-group", "enable.auto.commit": False})
p.send_offsets_to_transaction([TopicPartition("golden", 0, 9)], c.consumer_group_metadata(), 10)
p.commit_transaction(10)
print("committed")
