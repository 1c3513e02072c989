const { Kafka, logLevel } = require('kafkajs')
const port = process.argv[2]
const kafka = new Kafka({ clientId: 'kjs-client', brokers: ['127.0.0.1:' + port], logLevel: logLevel.NOTHING })
async function main() {
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  await producer.send({ topic: 'golden', acks: -1, messages: [{ key: 'kjs-key', value: 'kjs-value' }] })
  await producer.disconnect()
  const admin = kafka.admin()
  await admin.connect()
  console.log(await admin.fetchTopicOffsets('golden'))
  try { await admin.createTopics({ topics: [{ topic: 'kjs-new', numPartitions: 2 }], timeout: 1000 }) } catch (e) { console.log('create', e.message) }
  try { await admin.listGroups() } catch (e) { console.log('lg', e.message) }
  try { await admin.describeConfigs({ resources: [{ type: 2, name: 'golden' }], includeSynonyms: false }) } catch (e) { console.log('dc', e.message) }
  await admin.disconnect()
  const consumer = kafka.consumer({ groupId: 'kjs-group' })
  await consumer.connect()
  await consumer.subscribe({ topic: 'golden', fromBeginning: true })
  await consumer.run({ eachMessage: async () => {} })
  await new Promise(r => setTimeout(r, 4000))
  await consumer.disconnect()
}
main().then(() => process.exit(0), e => { console.log('ERR', e.message); process.exit(1) })
