import sys
from confluent_kafka.admin import AdminClient, NewTopic, NewPartitions, ConfigResource
a = AdminClient({"bootstrap.servers": "127.0.0.1:" + sys.argv[1], "client.id": "ck-admin"})
def wait(fs):
    for f in (fs.values() if isinstance(fs, dict) else [fs]):
        try:
            f.result(10)
        except Exception as e:  # the capture broker's answers are minimal
            print("result:", e)
wait(a.create_topics([NewTopic("ck-new", num_partitions=3, replication_factor=1,
                               config={"cleanup.policy": "compact"})], request_timeout=10))
wait(a.create_partitions([NewPartitions("golden", 4)], request_timeout=10))
wait(a.describe_configs([ConfigResource("topic", "golden")], request_timeout=10))
wait(a.alter_configs([ConfigResource("topic", "golden", set_config={"retention.ms": "3600000"})],
                     request_timeout=10))
print(a.list_groups(timeout=10))
wait(a.delete_topics(["ck-new"], request_timeout=10))
