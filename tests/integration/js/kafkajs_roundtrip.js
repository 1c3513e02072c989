// kafkajs against triald: admin creates a topic, a producer sends, fetchTopicOffsets is right.
// Usage: node kafkajs_roundtrip.js host:port topic
const { Kafka, logLevel } = require('kafkajs');

async function main() {
  const [broker, topic] = process.argv.slice(2);
  const kafka = new Kafka({ clientId: 'trial-it', brokers: [broker], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const created = await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  if (!created) throw new Error('createTopics returned false');
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (let i = 0; i < 30; i++) messages.push({ key: `k${i}`, value: `v${i}`, partition: i % 2 });
  await producer.send({ topic, acks: -1, messages });
  await producer.disconnect();
  const offsets = await admin.fetchTopicOffsets(topic);
  offsets.sort((a, b) => a.partition - b.partition);
  const summary = offsets.map((o) => `${o.partition}:${o.low}-${o.high}`).join(',');
  console.log(`offsets ${summary}`);
  const topics = await admin.listTopics();
  if (!topics.includes(topic)) throw new Error('listTopics lacks the topic');
  await admin.disconnect();
  if (summary !== '0:0-15,1:0-15') throw new Error(`unexpected offsets ${summary}`);
  console.log('kafkajs OK');
}

main().catch((e) => {
  console.error('kafkajs FAILED', e);
  process.exit(1);
});
