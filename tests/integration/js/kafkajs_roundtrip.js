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
  if (summary !== '0:0-15,1:0-15') throw new Error(`unexpected offsets ${summary}`);

  // A consumer group (read_committed by default) reads all 30 back.
  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set();
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`group consumer saw ${seen.size} of 30`)), 45000);
    consumer.run({
      eachMessage: async ({ message }) => {
        seen.add(message.key.toString());
        if (seen.size === 30) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  const committed = await admin.fetchOffsets({ groupId: `${topic}-group`, topics: [topic] });
  const total = committed[0].partitions.reduce((sum, p) => sum + Number(p.offset), 0);
  await admin.disconnect();
  if (total !== 30) throw new Error(`committed offsets sum ${total}, want 30`);
  console.log('kafkajs OK');
}

main().catch((e) => {
  console.error('kafkajs FAILED', e);
  process.exit(1);
});
