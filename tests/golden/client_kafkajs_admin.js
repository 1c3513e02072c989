// kafkajs admin calls against tests/golden/capture.py (usage: node kjs_admin.js PORT).
const { Kafka, logLevel } = require('kafkajs')
const kafka = new Kafka({ clientId: 'kjs-admin', brokers: ['127.0.0.1:' + process.argv[2]], logLevel: logLevel.NOTHING })
const step = async (name, fn) => { try { await fn() } catch (e) { console.log(name, e.message) } }
async function main() {
  const admin = kafka.admin()
  await admin.connect()
  await step('create', () => admin.createTopics({ topics: [{ topic: 'kjs-new', numPartitions: 2, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], timeout: 1000 }))
  await step('partitions', () => admin.createPartitions({ topicPartitions: [{ topic: 'golden', count: 3 }], timeout: 1000 }))
  await step('records', () => admin.deleteTopicRecords({ topic: 'golden', partitions: [{ partition: 0, offset: '0' }] }))
  await step('listGroups', () => admin.listGroups())
  await step('describeGroups', () => admin.describeGroups(['kjs-group']))
  await step('describeConfigs', () => admin.describeConfigs({ resources: [{ type: 2, name: 'golden' }], includeSynonyms: false }))
  await step('alterConfigs', () => admin.alterConfigs({ validateOnly: false, resources: [{ type: 2, name: 'golden', configEntries: [{ name: 'retention.ms', value: '3600000' }] }] }))
  await step('delete', () => admin.deleteTopics({ topics: ['kjs-new'], timeout: 1000 }))
  await admin.disconnect()
}
main().then(() => process.exit(0), e => { console.log('ERR', e.message); process.exit(1) })
