// kafkajs transactional producer against tests/golden/capture.py (node kjs_txn.js PORT).
const { Kafka, logLevel } = require('kafkajs')
const kafka = new Kafka({ clientId: 'kjs-txn', brokers: ['127.0.0.1:' + process.argv[2]], logLevel: logLevel.NOTHING })
async function main() {
  const producer = kafka.producer({ transactionalId: 'kjs-tid', idempotent: true, maxInFlightRequests: 1 })
  await producer.connect()
  const txn = await producer.transaction()
  await txn.send({ topic: 'golden', messages: [{ key: 'tk', value: 'tv' }] })
  await txn.sendOffsets({ consumerGroupId: 'kjs-group', topics: [{ topic: 'golden', partitions: [{ partition: 0, offset: '7' }] }] })
  await txn.commit()
  await producer.disconnect()
}
main().then(() => process.exit(0), e => { console.log('ERR', e.message); process.exit(1) })
