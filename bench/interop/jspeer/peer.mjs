// peer.mjs: a js-libp2p node running @chainsafe/libp2p-gossipsub, driven by
// line-delimited JSON on stdin and reporting on stdout, for the meshbus
// interop harness (package github.com/meshbus/meshbus/bench/interop).
//
// Stack: TCP on 127.0.0.1, noise, yamux, identify, gossipsub with StrictSign,
// emitSelf false, allowPublishToZeroTopicPeers true; otherwise library
// defaults, except two loopback allowances (see createLibp2p below).
//
// Usage: node peer.mjs [--msgid=spec|js-default] [--protocols=id,id,...] [--sparse]
//   --msgid=spec (default): message id = from (peer id bytes) || seqno, as
//     the libp2p pubsub spec and go implementations define it.
//   --msgid=js-default: the library's own default, protobuf(public key) ||
//     seqno, which differs from the spec's id (kept to test delivery with it).
//   --protocols: the pubsub protocols to speak, in preference order
//     (default the library's: /meshsub/1.2.0,/meshsub/1.1.0,/meshsub/1.0.0).
//   --sparse: mesh degree 1 (D = Dlo = Dhi = 1) and no flood publishing, so
//     that most messages travel by gossip (IHAVE/IWANT), not the mesh.
//
// Every output line is one JSON object with an "event" field:
//   {"event":"ready","peerId":..,"addrs":[..],"pubsubProtocols":[..]}  once, at start
//   {"event":"message","topic":..,"from":..,"data":b64,"id":b64,"seqno":hex,"receivedFrom":..}
//   {"event":"graft"|"prune","peer":..,"topic":..,"direction":..}
//   {"event":"invalid","from":..,"topic":..,"error":..}   a received message failed validation
//   {"event":"ok","req":..,"cmd":..,...}                  a command succeeded
//   {"event":"mesh","req":..,"topic":..,"peers":[..],"topicPeers":[..],"protocols":{peer:protocol},
//    "scores":{peer:score},"penalties":{peer:{reason:n}}} this peer's view of topic
//   {"event":"stats","req":..,"received":n,"duplicates":n,"invalid":n,
//    "idontwant":{peer:{"ids":n,"known":n}},   IDONTWANT ids per sender, and
//    how many of them name a message this peer has seen
//    "gossip":{peer:{"ihaveIds":n,"iwantAsked":n,"iwantIds":n,"iwantServed":n}}}
//    IHAVE ids from the peer and IWANT ids asked of it; IWANT ids from it
//    and messages served to it
//   {"event":"error","req":..,"cmd":..,"error":..}        a command failed
//   {"event":"stopped"}                                   last line before exit
// Commands (one JSON object per line; "req" is optional and echoed back):
//   {"cmd":"dial","addr":multiaddr-with-/p2p/}
//   {"cmd":"subscribe","topic":..}, {"cmd":"unsubscribe","topic":..}
//   {"cmd":"publish","topic":..,"data":b64}  -> ok with "recipients"
//   {"cmd":"peers","topic":..}               -> mesh
//   {"cmd":"stats"}                          -> stats
//   {"cmd":"stop"}                           -> stopped, then exit 0
// End of stdin is a stop. The process keeps no timer of its own: once the
// node is stopped it exits.

import './polyfill.mjs'
import { createInterface } from 'node:readline'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@chainsafe/libp2p-gossipsub'
import { multiaddr } from '@multiformats/multiaddr'

const args = process.argv.slice(2)
let msgIdMode = 'spec'
let protocolList = null
let sparse = false
for (const a of args) {
  if (a.startsWith('--msgid=')) {
    msgIdMode = a.slice('--msgid='.length)
  } else if (a === '--sparse') {
    sparse = true
  } else if (a.startsWith('--protocols=')) {
    protocolList = a.slice('--protocols='.length).split(',').filter((p) => p !== '')
  } else {
    process.stderr.write(`unknown argument ${a}\n`)
    process.exit(2)
  }
}
if (msgIdMode !== 'spec' && msgIdMode !== 'js-default') {
  process.stderr.write(`--msgid must be spec or js-default, not ${msgIdMode}\n`)
  process.exit(2)
}

// specMsgId is the pubsub spec's default id: the author's peer id bytes
// followed by the 8-byte big-endian seqno.
function specMsgId (msg) {
  if (msg.type !== 'signed' || msg.sequenceNumber == null) {
    throw new Error('expected a signed message with a seqno')
  }
  const from = msg.from.toMultihash().bytes
  const id = new Uint8Array(from.length + 8)
  id.set(from, 0)
  new DataView(id.buffer).setBigUint64(from.length, msg.sequenceNumber, false)
  return id
}

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

const b64 = (u8) => Buffer.from(u8).toString('base64')

const gsOpts = {
  globalSignaturePolicy: 'StrictSign',
  emitSelf: false,
  allowPublishToZeroTopicPeers: true,
  // Every harness node is on 127.0.0.1: without this the IP colocation
  // penalty (P6, more than 10 peers on one IP) turns every peer's score
  // negative in a dense mesh and the mesh empties. The rest of the score
  // function, PX and flood publishing stay at the library defaults.
  scoreParams: { IPColocationFactorWhitelist: new Set(['127.0.0.1']) }
}
if (msgIdMode === 'spec') {
  gsOpts.msgIdFn = specMsgId
}
if (sparse) {
  // A mesh of one peer and no flood publishing: most messages then travel
  // by gossip (IHAVE/IWANT).
  Object.assign(gsOpts, { D: 1, Dlo: 1, Dhi: 1, Dout: 0, Dscore: 0, floodPublish: false })
}

const node = await createLibp2p({
  start: false, // the protocols are set before the pubsub handlers register
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  // Every node of the harness dials from 127.0.0.1: lift js-libp2p's
  // per-host inbound rate limit (5 connections/s) and pending-connection
  // cap (10), which would refuse dials in a dense mesh.
  connectionManager: { inboundConnectionThreshold: 10000, maxIncomingPendingConnections: 1000 },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    pubsub: gossipsub(gsOpts)
  }
})
const gs = node.services.pubsub
if (protocolList != null) {
  gs.multicodecs = protocolList
}
await node.start()

const stats = { received: 0, duplicates: 0, invalid: 0 }

// Observe validation outcomes (duplicates and rejections) for diagnosis.
// validateReceivedMessage is internal to the library; if a later version
// renames it, the harness only loses these counters, not the delivery check.
if (typeof gs.validateReceivedMessage === 'function') {
  const orig = gs.validateReceivedMessage.bind(gs)
  gs.validateReceivedMessage = async (source, rpcMsg) => {
    const res = await orig(source, rpcMsg)
    if (res.code === 'duplicate') {
      stats.duplicates++
    } else if (res.code === 'invalid') {
      stats.invalid++
      emit({ event: 'invalid', from: source.toString(), topic: rpcMsg.topic, error: String(res.error ?? res.reason) })
    }
    return res
  }
}

// Record the message ids each peer said it does not want (IDONTWANT,
// gossipsub v1.2), to check later that they name messages this peer knows,
// i.e. that both sides compute the same ids. Internal method, as above.
const idontwant = new Map() // peer id string -> Set of message id strings
if (typeof gs.handleIdontwant === 'function') {
  const orig = gs.handleIdontwant.bind(gs)
  gs.handleIdontwant = (id, ctrl) => {
    let set = idontwant.get(id)
    if (set == null) {
      set = new Set()
      idontwant.set(id, set)
    }
    for (const { messageIDs } of ctrl) {
      for (const mid of messageIDs ?? []) {
        if (set.size < 100000) set.add(gs.msgIdToStrFn(mid))
      }
    }
    return orig(id, ctrl)
  }
}

// Count gossip per peer: IHAVE ids received and IWANT ids asked in answer;
// IWANT ids received and messages served in answer. Internal methods, as
// above.
const gossip = new Map() // peer id string -> counters
function gossipOf (id) {
  let g = gossip.get(id)
  if (g == null) {
    g = { ihaveIds: 0, iwantAsked: 0, iwantIds: 0, iwantServed: 0 }
    gossip.set(id, g)
  }
  return g
}
const countIds = (ctrls) => ctrls.reduce((n, c) => n + (c.messageIDs?.length ?? 0), 0)
if (typeof gs.handleIHave === 'function' && typeof gs.handleIWant === 'function') {
  const ihave = gs.handleIHave.bind(gs)
  gs.handleIHave = (id, ctrl) => {
    const iwant = ihave(id, ctrl)
    const g = gossipOf(id)
    g.ihaveIds += countIds(ctrl)
    g.iwantAsked += countIds(iwant)
    return iwant
  }
  const iwant = gs.handleIWant.bind(gs)
  gs.handleIWant = (id, ctrl) => {
    const msgs = iwant(id, ctrl)
    const g = gossipOf(id)
    g.iwantIds += countIds(ctrl)
    g.iwantServed += msgs.length
    return msgs
  }
}

// idontwantStats returns, per peer, how many distinct ids it sent in
// IDONTWANT and how many of them name a message this peer has seen.
function idontwantStats () {
  const out = {}
  for (const [id, set] of idontwant) {
    let known = 0
    for (const s of set) {
      if (gs.seenCache.has(s)) known++
    }
    out[id] = { ids: set.size, known }
  }
  return out
}

gs.addEventListener('gossipsub:message', (evt) => {
  const { propagationSource, msgId, msg } = evt.detail
  stats.received++
  emit({
    event: 'message',
    topic: msg.topic,
    from: msg.type === 'signed' ? msg.from.toString() : '',
    data: b64(msg.data),
    id: msgId,
    seqno: msg.type === 'signed' ? msg.sequenceNumber.toString(16).padStart(16, '0') : '',
    receivedFrom: propagationSource.toString()
  })
})
gs.addEventListener('gossipsub:graft', (evt) => {
  emit({ event: 'graft', peer: evt.detail.peerId, topic: evt.detail.topic, direction: evt.detail.direction })
})
gs.addEventListener('gossipsub:prune', (evt) => {
  emit({ event: 'prune', peer: evt.detail.peerId, topic: evt.detail.topic, direction: evt.detail.direction })
})

// protocols returns the negotiated pubsub protocol per peer, from the
// outbound streams (internal state; empty if the library changes it).
// Record behaviour penalties (score term P7) by peer and reason, so that a
// negative score can be explained. Internal method, as above.
const penalties = new Map() // peer id string -> { reason: count }
if (gs.score != null && typeof gs.score.addPenalty === 'function') {
  const orig = gs.score.addPenalty.bind(gs.score)
  gs.score.addPenalty = (id, penalty, label) => {
    const byReason = penalties.get(id) ?? {}
    byReason[label] = (byReason[label] ?? 0) + penalty
    penalties.set(id, byReason)
    return orig(id, penalty, label)
  }
}

// scores returns this peer's score of each connected pubsub peer.
function scores () {
  const out = {}
  for (const id of gs.peers.keys()) {
    out[id] = gs.score?.score(id) ?? 0
  }
  return out
}

function protocols () {
  const out = {}
  const streams = gs.streamsOutbound
  if (streams instanceof Map) {
    for (const [id, s] of streams) {
      out[id] = s.protocol ?? ''
    }
  }
  return out
}

async function handle (c) {
  switch (c.cmd) {
    case 'dial': {
      await node.dial(multiaddr(c.addr))
      return {}
    }
    case 'subscribe':
      gs.subscribe(c.topic)
      return {}
    case 'unsubscribe':
      gs.unsubscribe(c.topic)
      return {}
    case 'publish': {
      const res = await gs.publish(c.topic, Buffer.from(c.data ?? '', 'base64'))
      return { recipients: res.recipients.map((p) => p.toString()) }
    }
    case 'peers':
      return {
        event: 'mesh',
        topic: c.topic,
        peers: gs.getMeshPeers(c.topic),
        topicPeers: gs.getSubscribers(c.topic).map((p) => p.toString()),
        protocols: protocols(),
        scores: scores(),
        penalties: Object.fromEntries(penalties)
      }
    case 'stats':
      return { event: 'stats', ...stats, idontwant: idontwantStats(), gossip: Object.fromEntries(gossip) }
    default:
      throw new Error(`unknown command ${JSON.stringify(c.cmd)}`)
  }
}

let stopping = null
async function stop () {
  if (stopping == null) {
    stopping = (async () => {
      try {
        await node.stop()
      } catch (e) {
        process.stderr.write(`stop: ${e.stack ?? e}\n`)
      }
      rl.close()
      // Exit once stdout is flushed: nothing of ours is left running, but a
      // library handle must not keep a stopped peer alive.
      process.stdout.write(JSON.stringify({ event: 'stopped' }) + '\n', () => process.exit(0))
    })()
  }
  return stopping
}

const rl = createInterface({ input: process.stdin, crlfDelay: Infinity })
rl.on('line', (line) => {
  if (line.trim() === '') return
  let c
  try {
    c = JSON.parse(line)
  } catch (e) {
    emit({ event: 'error', error: `bad command line: ${e.message}` })
    return
  }
  if (c.cmd === 'stop') {
    stop()
    return
  }
  handle(c).then(
    (res) => emit({ event: 'ok', req: c.req, cmd: c.cmd, ...res }),
    (e) => emit({ event: 'error', req: c.req, cmd: c.cmd, error: String(e?.message ?? e) })
  )
})
rl.on('close', () => { stop() })

emit({
  event: 'ready',
  peerId: node.peerId.toString(),
  addrs: node.getMultiaddrs().map((a) => a.toString()),
  pubsubProtocols: gs.multicodecs
})
