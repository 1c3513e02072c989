// kafkajs admin against triald: DescribeConfigs, AlterConfigs, CreatePartitions,
// DeleteRecords, DeleteTopics. Usage: node kafkajs_admin.js host:port topic
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs');

function assert(cond, what) {
  if (!cond) throw new Error(what);
}

async function main() {
  const [broker, topic] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'trial-admin', brokers: [broker], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: '3600000' }] }],
  });
  const describe = async () => {
    const r = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }],
    });
    const entries = {};
    for (const e of r.resources[0].configEntries) entries[e.configName] = e;
    return entries;
  };
  let c = await describe();
  assert(c['retention.ms'].configValue === '3600000', 'retention.ms override ' + JSON.stringify(c));
  assert(c['cleanup.policy'].configValue === 'delete' && c['cleanup.policy'].isDefault, 'cleanup.policy default');
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '7200000' }] }],
  });
  c = await describe();
  assert(c['retention.ms'].configValue === '7200000', 'altered retention.ms');
  let refused = false;
  try {
    await admin.alterConfigs({
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: 'soon' }] }],
    });
  } catch (e) {
    refused = true;
  }
  assert(refused, 'invalid config value accepted');

  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < 20; i++) messages.push({ value: `v${i}`, partition: 0 });
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();

  await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '12' }] });
  let offsets = await admin.fetchTopicOffsets(topic);
  assert(offsets[0].low === '12' && offsets[0].high === '20', 'after deleteRecords ' + JSON.stringify(offsets));

  await admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] });
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  assert(meta.topics[0].partitions.length === 3, 'createPartitions');

  // A second topic keeps a raised log start, for the caller to check after a restart.
  const kept = topic + '-kept';
  await admin.createTopics({ topics: [{ topic: kept, numPartitions: 1 }] });
  const p2 = kafka.producer();
  await p2.connect();
  await p2.send({ topic: kept, acks: -1, messages: messages.slice(0, 10) });
  await p2.disconnect();
  await admin.fetchTopicMetadata({ topics: [kept] }); // kafkajs needs fresh metadata for it.
  await admin.deleteTopicRecords({ topic: kept, partitions: [{ partition: 0, offset: '4' }] });

  await admin.deleteTopics({ topics: [topic] });
  const topics = await admin.listTopics();
  assert(!topics.includes(topic), 'deleteTopics');
  await admin.disconnect();
  console.log('kafkajs admin OK');
}

main().catch((e) => {
  console.error('kafkajs admin FAILED', e);
  process.exit(1);
});
