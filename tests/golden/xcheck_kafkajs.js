// xcheck_kafkajs.js — a second independent oracle for the C codec's RESPONSE encodings:
// kafkajs's own response decoders (src/protocol/requests/<api>/v<N>/response.js) decode the
// bodies our encoder wrote (dumped by tests/unit/test_proto_xcheck.c), and the values, taken
// in the order kafkajs builds them, must equal the C values. kafkajs covers APIs that
// kafka-python 2.0.2 lacks (InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
// TxnOffsetCommit).
// Usage: node xcheck_kafkajs.js KAFKAJS_DIR DUMP_DIR   (exit 1 on any mismatch)
const fs = require('fs')
const path = require('path')
const [kjsDir, dumpDir] = process.argv.slice(2)
const req = path.join(kjsDir, 'src/protocol/requests')
const NAMES = {
  0: 'produce', 2: 'listOffsets', 3: 'metadata', 8: 'offsetCommit', 9: 'offsetFetch',
  10: 'findCoordinator', 11: 'joinGroup', 12: 'heartbeat', 13: 'leaveGroup', 14: 'syncGroup',
  15: 'describeGroups', 16: 'listGroups', 17: 'saslHandshake', 18: 'apiVersions',
  19: 'createTopics', 20: 'deleteTopics', 21: 'deleteRecords', 22: 'initProducerId',
  24: 'addPartitionsToTxn', 25: 'addOffsetsToTxn', 26: 'endTxn', 28: 'txnOffsetCommit',
  32: 'describeConfigs', 33: 'alterConfigs', 36: 'saslAuthenticate', 37: 'createPartitions',
}
// Fetch is left out: kafkajs decodes the record batches inside, and ours are random bytes.
// Decoders that reshape what they read cannot be compared value by value; skipped, with why:
const RESHAPED = {
  19: 'CreateTopics: kafkajs sorts topicErrors by name',
  20: 'DeleteTopics: kafkajs sorts topicErrors by name',
  37: 'CreatePartitions: kafkajs sorts topicErrors by name',
  32: 'DescribeConfigs: kafkajs derives configSource and reorders config fields',
  36: 'SaslAuthenticate: kafkajs returns authBytes with their length prefix re-encoded',
  21: 'DeleteRecords: kafkajs sorts topics by name',
}

function flatten(v, out) {
  if (v === null || v === undefined) out.push('null')
  else if (typeof v === 'boolean') out.push(v ? '1' : '0')
  else if (typeof v === 'number' || typeof v === 'bigint') out.push(String(v))
  else if (typeof v === 'string') out.push('s:' + v)
  else if (Buffer.isBuffer(v)) out.push('b:' + v.toString('hex'))
  else if (Array.isArray(v)) { out.push('n=' + v.length); v.forEach(x => flatten(x, out)) }
  else if (typeof v.low === 'number' && typeof v.high === 'number') out.push(v.toString())
  else {
    // KIP-219: kafkajs reports throttleTime 0 and moves the value to clientSideThrottleTime.
    const o = Object.assign({}, v)
    if ('clientSideThrottleTime' in o) {
      o.throttleTime = o.clientSideThrottleTime
      delete o.clientSideThrottleTime
    }
    Object.values(o).forEach(x => flatten(x, out))
  }
}

// An int64 that kafkajs hands back as a string matches the C decimal.
const same = (c, js) => c === js || 's:' + c === js || (c === 'n=-1' && js === 'null')

async function main() {
  let checked = 0, missing = 0, failed = 0, skipped = 0
  for (const f of fs.readdirSync(dumpDir).sort()) {
    const m = /^(\d+)_(\d+)_resp_\d+\.bin$/.exec(f)
    if (!m || !NAMES[m[1]]) continue
    if (RESHAPED[m[1]]) { skipped++; continue }
    const file = path.join(req, NAMES[m[1]], 'v' + m[2], 'response.js')
    if (!fs.existsSync(file)) { missing++; continue }
    let mod = require(file)
    if (typeof mod === 'function') mod = mod({ topics: [] }) // DeleteRecords binds its request
    const { decode } = mod
    const expect = fs.readFileSync(path.join(dumpDir, f.replace('.bin', '.txt')), 'utf8').split('\n').slice(0, -1)
    let got = []
    try { flatten(await decode(fs.readFileSync(path.join(dumpDir, f))), got) } catch (e) {
      console.log('FAIL', f, 'kafkajs could not decode:', e.message); failed++; continue
    }
    checked++
    const n = Math.max(expect.length, got.length)
    for (let i = 0; i < n; i++) {
      if (!same(expect[i], got[i])) {
        console.log('FAIL', f, 'value', i, 'C:', expect[i], 'kafkajs:', got[i]); failed++; break
      }
    }
  }
  console.log(`xcheck kafkajs: ${checked} responses checked, ${missing} without a kafkajs ` +
              `decoder, ${skipped} skipped (kafkajs reshapes them), ${failed} failed`)
  process.exit(failed || !checked ? 1 : 0)
}
main()
