// peer.mjs: a js-libp2p node running @chainsafe/libp2p-gossipsub (or, with
// --router=floodsub, @libp2p/floodsub), driven by line-delimited JSON on
// stdin and reporting on stdout, for the meshbus interop harness (package
// github.com/meshbus/meshbus/interop/js).
//
// Stack: TCP on 127.0.0.1, noise, yamux, identify, gossipsub with StrictSign,
// emitSelf false, allowPublishToZeroTopicPeers true; otherwise library
// defaults, except two loopback allowances (see createLibp2p below).
//
// Usage: node peer.mjs [--router=gossipsub|floodsub] [--msgid=spec|js-default]
//                      [--protocols=id,id,...] [--sparse | --no-mesh]
//   --router=gossipsub (default): @chainsafe/libp2p-gossipsub, as below.
//   --router=floodsub: @libp2p/floodsub instead (protocol /floodsub/1.0.0
//     only; StrictSign, emitSelf false, library defaults otherwise). It has
//     no mesh, no control messages and no configurable message id: the
//     other three options are refused with it. Its "message" events carry
//     the id the library deduplicates by, protobuf(public key) || seqno
//     (floodsub never sends ids on the wire), and "stats" adds "control":
//     {peer: n}, the RPCs from each peer that carried a control part
//     (GRAFT, PRUNE, IHAVE, IWANT, IDONTWANT), which a gossipsub router must
//     never send to a floodsub peer. "mesh" has no peers, scores or
//     penalties; its protocols are those of every pubsub peer.
//   --msgid=spec (default): message id = from (peer id bytes) || seqno, as
//     the libp2p pubsub spec and go implementations define it.
//   --msgid=js-default: the library's own default, protobuf(public key) ||
//     seqno, which differs from the spec's id (kept to test delivery with it).
//   --protocols: the pubsub protocols to speak, in preference order
//     (default the library's: /meshsub/1.2.0,/meshsub/1.1.0,/meshsub/1.0.0).
//   --sparse: mesh degree 1 (D = Dlo = Dhi = 1) and no flood publishing, so
//     that most messages travel by gossip (IHAVE/IWANT), not the mesh.
//   --no-mesh: no mesh at all (D = Dlo = Dhi = Dscore = Dout = 0), flood
//     publishing kept: the library never grafts, and answers every GRAFT
//     from a peer that dialed it with PRUNE and a backoff (its mesh is at
//     Dhi = 0 and the link is inbound), so it receives other peers'
//     messages only by asking for them (IWANT) after their IHAVE.
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
//     floodsub only: "seqno":hex sets the message's seqno (by default a
//     random one whose top byte is not zero: see floodsubHooks)
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
import { floodsub } from '@libp2p/floodsub'
import { multiaddr } from '@multiformats/multiaddr'

const args = process.argv.slice(2)
let routerName = 'gossipsub'
let msgIdMode = 'spec'
let protocolList = null
let sparse = false
let noMesh = false
const gossipsubOnly = [] // options given that only gossipsub takes
for (const a of args) {
  if (a.startsWith('--router=')) {
    routerName = a.slice('--router='.length)
  } else if (a.startsWith('--msgid=')) {
    msgIdMode = a.slice('--msgid='.length)
    gossipsubOnly.push(a)
  } else if (a === '--sparse') {
    sparse = true
    gossipsubOnly.push(a)
  } else if (a === '--no-mesh') {
    noMesh = true
    gossipsubOnly.push(a)
  } else if (a.startsWith('--protocols=')) {
    protocolList = a.slice('--protocols='.length).split(',').filter((p) => p !== '')
    gossipsubOnly.push(a)
  } else {
    process.stderr.write(`unknown argument ${a}\n`)
    process.exit(2)
  }
}
if (routerName !== 'gossipsub' && routerName !== 'floodsub') {
  process.stderr.write(`--router must be gossipsub or floodsub, not ${routerName}\n`)
  process.exit(2)
}
const flood = routerName === 'floodsub'
if (flood && gossipsubOnly.length > 0) {
  process.stderr.write(`${gossipsubOnly.join(' ')}: gossipsub options, not for --router=floodsub\n`)
  process.exit(2)
}
if (sparse && noMesh) {
  process.stderr.write('--sparse and --no-mesh exclude each other\n')
  process.exit(2)
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
if (noMesh) {
  // No mesh: never graft (D = Dlo = 0), refuse inbound grafts (Dhi = 0),
  // keep no outbound quota (Dout = 0); publish by flooding.
  Object.assign(gsOpts, { D: 0, Dlo: 0, Dhi: 0, Dout: 0, Dscore: 0 })
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
    pubsub: flood ? floodsub({ globalSignaturePolicy: 'StrictSign', emitSelf: false }) : gossipsub(gsOpts)
  }
})
const ps = node.services.pubsub
if (protocolList != null) {
  ps.multicodecs = protocolList
}
await node.start()

const stats = { received: 0, duplicates: 0, invalid: 0 }
let publishSeqno = null // floodsub: the seqno of the publish under way
const router = flood ? floodsubHooks(ps) : gossipsubHooks(ps)

// gossipsubHooks observes a gossipsub router and returns its
// stats and topic view.
function gossipsubHooks (gs) {
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

  // protocols returns the negotiated pubsub protocol per peer, from the
  // outbound streams (internal state; empty if the library changes it).
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

  return {
    view: (topic) => ({
      peers: gs.getMeshPeers(topic),
      topicPeers: gs.getSubscribers(topic).map((p) => p.toString()),
      protocols: protocols(),
      scores: scores(),
      penalties: Object.fromEntries(penalties)
    }),
    stats: () => ({ idontwant: idontwantStats(), gossip: Object.fromEntries(gossip) })
  }
}

// floodsubHooks observes a floodsub router (@libp2p/floodsub on
// @libp2p/pubsub; the wrapped methods are internal, as above) and returns
// its stats and topic view.
function floodsubHooks (fs) {
  // @libp2p/pubsub draws a random 64-bit seqno but encodes it without its
  // leading zero bytes, and signs that form: 1 message in 256 goes out with
  // a seqno shorter than 8 bytes, which the spec's "64-bit big-endian uint"
  // does not allow, and which meshbus and @chainsafe/libp2p-gossipsub
  // reject (upstream: js-libp2p pull request 3626). So that a run measures
  // routing, not that bug, the top byte is made non-zero, unless a publish
  // command names its seqno (publishSeqno, consumed synchronously: publish
  // calls buildMessage before its first await).
  const buildMessage = fs.buildMessage.bind(fs)
  fs.buildMessage = async (message) => {
    let sequenceNumber = message.sequenceNumber
    if (publishSeqno != null) {
      sequenceNumber = publishSeqno
      publishSeqno = null
    } else if (sequenceNumber < (1n << 56n)) {
      sequenceNumber |= 1n << 56n
    }
    return buildMessage({ ...message, sequenceNumber })
  }
  // The propagation source of each message object, for its "message" event
  // (the library's event carries only the message).
  const sourceOf = new WeakMap()
  const processMessage = fs.processMessage.bind(fs)
  fs.processMessage = async (from, msg) => {
    sourceOf.set(msg, from)
    return processMessage(from, msg)
  }
  // floodsub asks its seen cache once per received copy: a hit is a
  // duplicate, dropped.
  const has = fs.seenCache.has.bind(fs.seenCache)
  fs.seenCache.has = (key) => {
    const seen = has(key)
    if (seen) stats.duplicates++
    return seen
  }
  // validate throws for a message that fails StrictSign (or a validator).
  const validate = fs.validate.bind(fs)
  fs.validate = async (from, msg) => {
    try {
      return await validate(from, msg)
    } catch (e) {
      stats.invalid++
      emit({ event: 'invalid', from: from.toString(), topic: msg.topic, error: String(e?.message ?? e) })
      throw e
    }
  }
  // Count, per peer, the RPCs that carry a control part: the library decodes
  // and ignores it, a gossipsub router must not send one to floodsub.
  const control = new Map() // peer id string -> RPCs with control
  const processMessages = fs.processMessages.bind(fs)
  fs.processMessages = (peerId, stream, peerStreams) => {
    const id = peerId.toString()
    async function * inspect () {
      for await (const data of stream) {
        try {
          if (fs.decodeRpc(data).control != null) control.set(id, (control.get(id) ?? 0) + 1)
        } catch {
          // undecodable: processMessages sees the same bytes and fails
        }
        yield data
      }
    }
    return processMessages(peerId, inspect(), peerStreams)
  }
  fs.addEventListener('message', (evt) => {
    const msg = evt.detail
    stats.received++
    emit({
      event: 'message',
      topic: msg.topic,
      from: msg.type === 'signed' ? msg.from.toString() : '',
      data: b64(msg.data),
      id: b64(fs.getMsgId(msg)),
      seqno: msg.type === 'signed' ? msg.sequenceNumber.toString(16).padStart(16, '0') : '',
      receivedFrom: sourceOf.get(msg)?.toString() ?? ''
    })
  })
  function protocols () {
    const out = {}
    for (const [id, s] of fs.peers) {
      out[id.toString()] = s.protocol ?? ''
    }
    return out
  }
  return {
    view: (topic) => ({
      peers: [],
      topicPeers: fs.getSubscribers(topic).map((p) => p.toString()),
      protocols: protocols(),
      scores: {},
      penalties: {}
    }),
    stats: () => ({ idontwant: {}, gossip: {}, control: Object.fromEntries(control) })
  }
}

async function handle (c) {
  switch (c.cmd) {
    case 'dial': {
      await node.dial(multiaddr(c.addr))
      return {}
    }
    case 'subscribe':
      ps.subscribe(c.topic)
      return {}
    case 'unsubscribe':
      ps.unsubscribe(c.topic)
      return {}
    case 'publish': {
      if (c.seqno != null) {
        if (!flood) throw new Error('seqno: floodsub only')
        if (!/^[0-9a-f]{1,16}$/.test(c.seqno)) throw new Error(`seqno: want 1-16 hex digits, not ${JSON.stringify(c.seqno)}`)
        publishSeqno = BigInt('0x' + c.seqno)
      }
      let res
      try {
        res = await ps.publish(c.topic, Buffer.from(c.data ?? '', 'base64'))
      } finally {
        publishSeqno = null // unused if publish failed before building
      }
      return { recipients: res.recipients.map((p) => p.toString()) }
    }
    case 'peers':
      return { event: 'mesh', topic: c.topic, ...router.view(c.topic) }
    case 'stats':
      return { event: 'stats', ...stats, ...router.stats() }
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
  pubsubProtocols: ps.multicodecs
})
