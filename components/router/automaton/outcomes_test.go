package automaton

import (
	"strconv"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/events"
)

// outcomeCases produce every outcome from the handler that returns it. Each
// case builds its own automaton; TestOutcomeCasesCoverEveryOutcome checks
// that the table is complete.
var outcomeCases = []struct {
	want Outcome
	name string
	run  func(h *harness) Outcome
}{
	{OutcomeUnknownPeer, "graft from unknown peer", func(h *harness) Outcome {
		h.join(topicA)
		return h.a.HandleGraft(h.now, pid(99), topicA, &h.out)
	}},
	{OutcomeGraylisted, "graft from graylisted peer", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		h.scores(events.ScoreThresholds{Gossip: -1, Publish: -2, Graylist: -3}, p, -5.0)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomeUnsupportedByProtocol, "graft from floodsub peer", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolFloodsub, false, topicA)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomeInvalidInput, "subscription with empty topic", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.HandleSubscription(h.now, p, "", true, &h.out)
	}},
	{OutcomePeerAdded, "add peer", func(h *harness) Outcome {
		return h.a.AddPeer(h.now, PeerSpec{ID: pid(1), Protocol: wire.ProtocolMeshsub11}, &h.out)
	}},
	{OutcomePeerAlreadyAdded, "add peer twice", func(h *harness) Outcome {
		h.add(1, wire.ProtocolMeshsub11, false)
		return h.a.AddPeer(h.now, PeerSpec{ID: pid(1), Protocol: wire.ProtocolMeshsub11}, &h.out)
	}},
	{OutcomeUnsupportedProtocol, "add peer with unknown protocol", func(h *harness) Outcome {
		return h.a.AddPeer(h.now, PeerSpec{ID: pid(1), Protocol: "/meshsub/9.9.9"}, &h.out)
	}},
	{OutcomeTooManyPeers, "add peer over MaxPeers", func(h *harness) Outcome {
		h.a.cfg.MaxPeers = 1
		h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.AddPeer(h.now, PeerSpec{ID: pid(2), Protocol: wire.ProtocolMeshsub12}, &h.out)
	}},
	{OutcomePeerRemoved, "remove peer", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.RemovePeer(h.now, p, &h.out)
	}},
	{OutcomeRecordUpdated, "update record", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.UpdatePeerRecord(p, []byte("rec"))
	}},
	{OutcomeSubscribed, "subscribe", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.HandleSubscription(h.now, p, topicA, true, &h.out)
	}},
	{OutcomeAlreadySubscribed, "subscribe twice", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandleSubscription(h.now, p, topicA, true, &h.out)
	}},
	{OutcomeUnsubscribed, "unsubscribe", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandleSubscription(h.now, p, topicA, false, &h.out)
	}},
	{OutcomeNotSubscribed, "unsubscribe from unknown topic", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.HandleSubscription(h.now, p, topicA, false, &h.out)
	}},
	{OutcomeTooManyTopics, "subscribe over MaxTopicsPerPeer", func(h *harness) Outcome {
		h.a.cfg.MaxTopicsPerPeer = 1
		p := h.add(1, wire.ProtocolMeshsub12, false, "t1")
		return h.a.HandleSubscription(h.now, p, "t2", true, &h.out)
	}},
	{OutcomeJoined, "join", func(h *harness) Outcome {
		return h.a.Join(h.now, topicA, &h.out)
	}},
	{OutcomeAlreadyJoined, "join twice", func(h *harness) Outcome {
		h.join(topicA)
		return h.a.Join(h.now, topicA, &h.out)
	}},
	{OutcomeLeft, "leave", func(h *harness) Outcome {
		h.join(topicA)
		return h.a.Leave(h.now, topicA, &h.out)
	}},
	{OutcomeTopicNotJoined, "leave unjoined topic", func(h *harness) Outcome {
		return h.a.Leave(h.now, topicA, &h.out)
	}},
	{OutcomeGraftAccepted, "graft", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomeAlreadyInMesh, "graft twice", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		h.graftIn(p, topicA)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomeGraftBackoff, "graft during backoff", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		h.a.HandlePrune(h.now, p, prune(topicA, 60), &h.out)
		h.advance(30 * time.Second)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomeGraftFlood, "graft right after prune", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		h.a.HandlePrune(h.now, p, prune(topicA, 60), &h.out)
		h.advance(time.Second)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomeGraftDirectPeer, "graft from direct peer", func(h *harness) Outcome {
		h.join(topicA)
		h.a.AddPeer(h.now, PeerSpec{ID: pid(1), Protocol: wire.ProtocolMeshsub12, Direct: true}, &h.out)
		h.a.HandleSubscription(h.now, pid(1), topicA, true, &h.out)
		return h.a.HandleGraft(h.now, pid(1), topicA, &h.out)
	}},
	{OutcomeGraftNegativeScore, "graft with negative score", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		h.scores(events.ScoreThresholds{Gossip: -10, Publish: -20, Graylist: -30}, p, -1.0)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomeMeshFull, "inbound graft with Dhi mesh", func(h *harness) Outcome {
		h.join(topicA)
		for i := 1; i <= h.a.cfg.Dhi; i++ {
			h.graftIn(h.add(i, wire.ProtocolMeshsub12, false, topicA), topicA)
		}
		p := h.add(100, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandleGraft(h.now, p, topicA, &h.out)
	}},
	{OutcomePruned, "prune mesh peer", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		h.graftIn(p, topicA)
		return h.a.HandlePrune(h.now, p, prune(topicA, 0), &h.out)
	}},
	{OutcomeNotInMesh, "prune non-mesh peer", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandlePrune(h.now, p, prune(topicA, 0), &h.out)
	}},
	{OutcomePXAccepted, "prune with PX, PX enabled", func(h *harness) Outcome {
		h.a.cfg.PeerExchange = true
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandlePrune(h.now, p, prune(topicA, 60, pid(50)), &h.out)
	}},
	{OutcomePXIgnored, "prune with PX, PX disabled", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandlePrune(h.now, p, prune(topicA, 60, pid(50)), &h.out)
	}},
	{OutcomeIWantSent, "ihave of unseen id", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		return h.a.HandleIHave(h.now, p, ihave(topicA, "m1"), &h.out)
	}},
	{OutcomeNothingWanted, "ihave of seen id", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(pid(0), topicA, 1)
		h.a.Publish(h.now, m, id, &h.out)
		return h.a.HandleIHave(h.now, p, ihave(topicA, id), &h.out)
	}},
	{OutcomeIHaveBudgetExceeded, "too many ihaves", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		for range h.a.cfg.MaxIHaveMessages {
			h.a.HandleIHave(h.now, p, ihave(topicA, "x"), &h.out)
		}
		return h.a.HandleIHave(h.now, p, ihave(topicA, "y"), &h.out)
	}},
	{OutcomeBelowGossipThreshold, "ihave from low score", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		h.scores(events.ScoreThresholds{Gossip: -1, Publish: -2, Graylist: -10}, p, -1.5)
		return h.a.HandleIHave(h.now, p, ihave(topicA, "m1"), &h.out)
	}},
	{OutcomeIWantServed, "iwant of advertised id", func(h *harness) Outcome {
		p := gossipedTo(h)
		return h.a.HandleIWant(h.now, p, iwant(h.a.mcache.windows[1][0].id), &h.out)
	}},
	{OutcomeIWantNothingServed, "iwant of unadvertised id", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(pid(0), topicA, 1)
		h.a.Publish(h.now, m, id, &h.out)
		return h.a.HandleIWant(h.now, p, iwant(id), &h.out)
	}},
	{OutcomeIWantBudgetExceeded, "iwant beyond retransmission limit", func(h *harness) Outcome {
		p := gossipedTo(h)
		id := h.a.mcache.windows[1][0].id
		for range h.a.cfg.GossipRetransmission {
			h.a.HandleIWant(h.now, p, iwant(id), &h.out)
		}
		return h.a.HandleIWant(h.now, p, iwant(id), &h.out)
	}},
	{OutcomeIDontWantRecorded, "idontwant", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.HandleIDontWant(h.now, p, idontwant("m1"), &h.out)
	}},
	{OutcomeIDontWantBudgetExceeded, "idontwant beyond MaxIDontWant", func(h *harness) Outcome {
		h.a.cfg.MaxIDontWant = 2
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.HandleIDontWant(h.now, p, idontwant("m1", "m2", "m3"), &h.out)
	}},
	{OutcomeNeedsValidation, "new message", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(p, topicA, 10)
		return h.a.HandleMessage(h.now, p, m, id, true, &h.out)
	}},
	{OutcomeNeedsSignatureCheck, "new message, not yet checked", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(p, topicA, 10)
		return h.a.HandleMessage(h.now, p, m, id, false, &h.out)
	}},
	{OutcomeAlreadySeen, "duplicate message", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(p, topicA, 10)
		h.a.HandleMessage(h.now, p, m, id, true, &h.out)
		return h.a.HandleMessage(h.now, p, m, id, true, &h.out)
	}},
	{OutcomeSelfOrigin, "own message comes back", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(pid(0), topicA, 10)
		return h.a.HandleMessage(h.now, p, m, id, true, &h.out)
	}},
	{OutcomeValidationQueueFull, "pending set full", func(h *harness) Outcome {
		h.a.cfg.MaxPendingValidation = 1
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(p, topicA, 10)
		h.a.HandleMessage(h.now, p, m, id, true, &h.out)
		m, id = msg(p, topicA, 10)
		return h.a.HandleMessage(h.now, p, m, id, true, &h.out)
	}},
	{OutcomeCopyDone, "staggered copy written", func(h *harness) Outcome {
		p, id := staggered(h)
		return h.a.HandleCopyDone(h.now, p, id, &h.out)
	}},
	{OutcomeCopyNotTracked, "copy of a message not staggered", func(h *harness) Outcome {
		return h.a.HandleCopyDone(h.now, pid(1), "no-such-id", &h.out)
	}},
	{OutcomeCopiesReleased, "staggered copy past MaxWait", func(h *harness) Outcome {
		staggered(h)
		h.advance(h.a.cfg.Stagger.MaxWait)
		return h.a.ReleaseDue(h.now, &h.out)
	}},
	{OutcomeNothingDue, "nothing staggered", func(h *harness) Outcome {
		return h.a.ReleaseDue(h.now, &h.out)
	}},
	{OutcomePeerFeaturesSet, "v1.4 support recorded", func(h *harness) Outcome {
		return h.a.SetPeerLargeMessages(h.add(1, wire.ProtocolMeshsub13, true), true)
	}},
	{OutcomeLargeMessagesUnsupported, "PREAMBLE from a peer without v1.4", func(h *harness) Outcome {
		h.join(topicA)
		p := h.add(1, wire.ProtocolMeshsub13, true, topicA)
		return h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
	}},
	{OutcomePreambleSourceChosen, "first PREAMBLE", func(h *harness) Outcome {
		p := v14Peer(h, 1)
		return h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
	}},
	{OutcomePreambleHave, "PREAMBLE for a seen message", func(h *harness) Outcome {
		p := v14Peer(h, 1)
		m, id := msg(pid(99), topicA, 10)
		h.a.HandleMessage(h.now, p, m, id, true, &h.out)
		return h.a.HandlePreamble(h.now, p, preamble(id, topicA, 10), &h.out)
	}},
	{OutcomePreambleOtherSource, "second announcer", func(h *harness) Outcome {
		p, q := v14Peer(h, 1), v14Peer(h, 2)
		h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
		return h.a.HandlePreamble(h.now, q, preamble("m", topicA, 10), &h.out)
	}},
	{OutcomePreambleRepeated, "PREAMBLE twice", func(h *harness) Outcome {
		p := v14Peer(h, 1)
		h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
		return h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
	}},
	{OutcomePreambleSourceDemoted, "PREAMBLE from a late source", func(h *harness) Outcome {
		p := v14Peer(h, 1)
		h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
		h.advance(h.a.cfg.Preamble.SourceTimeout)
		h.a.ExpirePreambles(h.now, &h.out)
		return h.a.HandlePreamble(h.now, p, preamble("n", topicA, 10), &h.out)
	}},
	{OutcomePreambleIgnored, "PREAMBLE with sources off", func(h *harness) Outcome {
		h.a.cfg.Preamble = PreambleConfig{}
		p := v14Peer(h, 1)
		return h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
	}},
	{OutcomePreambleTableFull, "PREAMBLE over MaxIncoming", func(h *harness) Outcome {
		h.a.cfg.Preamble.MaxIncoming = 1
		p, q := v14Peer(h, 1), v14Peer(h, 2)
		h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
		return h.a.HandlePreamble(h.now, q, preamble("n", topicA, 10), &h.out)
	}},
	{OutcomePreambleFlood, "PREAMBLE over MaxIncomingPerPeer", func(h *harness) Outcome {
		h.a.cfg.Preamble.MaxIncomingPerPeer = 1
		p := v14Peer(h, 1)
		h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
		return h.a.HandlePreamble(h.now, p, preamble("n", topicA, 10), &h.out)
	}},
	{OutcomePreambleOversized, "PREAMBLE over MaxMessageSize", func(h *harness) Outcome {
		p := v14Peer(h, 1)
		return h.a.HandlePreamble(h.now, p, preamble("m", topicA, 1<<30), &h.out)
	}},
	{OutcomePreamblesExpired, "source deadline passed", func(h *harness) Outcome {
		p := v14Peer(h, 1)
		h.a.HandlePreamble(h.now, p, preamble("m", topicA, 10), &h.out)
		h.advance(h.a.cfg.Preamble.SourceTimeout)
		return h.a.ExpirePreambles(h.now, &h.out)
	}},
	{OutcomeImReceivingRecorded, "IMRECEIVING", func(h *harness) Outcome {
		return h.a.HandleImReceiving(h.now, v14Peer(h, 1), imreceiving("m"), &h.out)
	}},
	{OutcomeImReceivingBudgetExceeded, "IMRECEIVING over MaxIDontWant", func(h *harness) Outcome {
		h.a.cfg.MaxIDontWant = 0
		return h.a.HandleImReceiving(h.now, v14Peer(h, 1), imreceiving("m"), &h.out)
	}},
	{OutcomeChokeRecorded, "choke entry", func(h *harness) Outcome {
		h.a.cfg.Choke = DefaultChokeConfig()
		p := h.add(1, wire.ProtocolMeshsub13, false, topicA)
		h.a.SetPeerChoke(p, true)
		return h.a.HandleChoke(h.now, p, []string{topicA}, nil, &h.out)
	}},
	{OutcomeChokeNotNegotiated, "choke entry, extension off", func(h *harness) Outcome {
		h.a.cfg.Choke = ChokeConfig{}
		p := h.add(1, wire.ProtocolMeshsub13, false, topicA)
		h.a.SetPeerChoke(p, true)
		return h.a.HandleChoke(h.now, p, []string{topicA}, nil, &h.out)
	}},
	{OutcomeChokeFlood, "choke entries over MaxPerHeartbeat", func(h *harness) Outcome {
		h.a.cfg.Choke = DefaultChokeConfig()
		h.a.cfg.Choke.MaxPerHeartbeat = 1
		p := h.add(1, wire.ProtocolMeshsub13, false, topicA)
		h.a.SetPeerChoke(p, true)
		return h.a.HandleChoke(h.now, p, []string{topicA}, []string{topicA}, &h.out)
	}},
	{OutcomeAuthorSkipRecorded, "author skip entry", func(h *harness) Outcome {
		h.a.cfg.Choke = DefaultChokeConfig()
		p := h.add(1, wire.ProtocolMeshsub13, false, topicA)
		h.a.SetPeerChoke(p, true)
		return h.a.HandleAuthorSkip(h.now, p, [][]byte{[]byte(pid(2))}, nil, &h.out)
	}},
	{OutcomeDelivered, "validated accept", func(h *harness) Outcome {
		return validate(h, ValidationAccept)
	}},
	{OutcomeRejected, "validated reject", func(h *harness) Outcome {
		return validate(h, ValidationReject)
	}},
	{OutcomeIgnored, "validated ignore", func(h *harness) Outcome {
		return validate(h, ValidationIgnore)
	}},
	{OutcomeUnknownMessage, "validated unknown id", func(h *harness) Outcome {
		return h.a.Validated(h.now, "nope", ValidationAccept, &h.out)
	}},
	{OutcomePublished, "publish with a peer", func(h *harness) Outcome {
		h.join(topicA)
		h.add(1, wire.ProtocolMeshsub12, false, topicA)
		m, id := msg(pid(0), topicA, 10)
		return h.a.Publish(h.now, m, id, &h.out)
	}},
	{OutcomeNoPeers, "publish alone", func(h *harness) Outcome {
		m, id := msg(pid(0), topicA, 10)
		return h.a.Publish(h.now, m, id, &h.out)
	}},
	{OutcomeScoresUpdated, "scores", func(h *harness) Outcome {
		return h.a.UpdateScores(h.now, nil, events.ScoreThresholds{}, &h.out)
	}},
	{OutcomeHeartbeatDone, "heartbeat", func(h *harness) Outcome {
		return h.a.Heartbeat(h.now, &h.out)
	}},
	{OutcomeEarlyIDontWantSent, "head of a large message", func(h *harness) Outcome {
		ps := h.addN(1, 3, topicA)
		h.join(topicA)
		return h.a.HandleMessageHead(h.now, ps[0], "", "early-id", 4096, &h.out)
	}},
	{OutcomeHeadDistrusted, "head from a peer whose heads kept breaking", func(h *harness) Outcome {
		ps := h.addN(1, 3, topicA)
		h.join(topicA)
		for i := range h.a.cfg.Preamble.MissAllowance + 1 {
			id := "false-" + strconv.Itoa(i)
			h.a.HandleMessageHead(h.now, ps[0], "", id, 4096, &h.out)
			h.a.FragmentNotJoined(h.now, ps[0], id, &h.out)
		}
		return h.a.HandleMessageHead(h.now, ps[0], "", "next", 4096, &h.out)
	}},
	{OutcomeRTTRecorded, "rtt of a peer", func(h *harness) Outcome {
		p := h.add(1, wire.ProtocolMeshsub12, false)
		return h.a.HandlePeerRTT(h.now, p, 40*time.Millisecond, &h.out)
	}},
	{OutcomeLazyFlushed, "flush of a queued lazy id", func(h *harness) Outcome {
		h.a.cfg.Lazy = DefaultLazyConfig()
		h.a.cfg.Lazy.MinEager, h.a.cfg.Lazy.MinSamples = 1, 1
		h.addN(1, 3, topicA)
		h.join(topicA)
		mesh := h.mesh(topicA)
		teach(h, mesh, 1, mesh[2:], nil)
		h.receive(mesh[0], 100) // an immediate IHAVE
		h.receive(mesh[0], 100) // queued
		return h.a.FlushLazy(h.now, &h.out)
	}},
	{OutcomeNothingToFlush, "flush with nothing queued", func(h *harness) Outcome {
		return h.a.FlushLazy(h.now, &h.out)
	}},
	{OutcomeEarlyIDontWantSkipped, "head of a small message", func(h *harness) Outcome {
		ps := h.addN(1, 3, topicA)
		h.join(topicA)
		return h.a.HandleMessageHead(h.now, ps[0], "", "early-id", 10, &h.out)
	}},
}

// gossipedTo sets up peer 1 (not in the mesh) that was sent an IHAVE for a
// published message, and returns it.
func gossipedTo(h *harness) peer.ID {
	h.a.cfg.D, h.a.cfg.Dlo, h.a.cfg.Dout, h.a.cfg.Dscore = 1, 1, 0, 1
	h.join(topicA)
	p0 := h.add(2, wire.ProtocolMeshsub12, false, topicA)
	h.graftIn(p0, topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	m, id := msg(pid(0), topicA, 10)
	h.a.Publish(h.now, m, id, &h.out)
	h.reset()
	h.heartbeat()
	if ih := h.rpc(p).GetControl().GetIhave(); len(ih) != 1 {
		h.t.Fatalf("peer 1 got %d IHAVE, want 1", len(ih))
	}
	return p
}

// staggered forwards a large message from peer 1 to a mesh of 6 and
// returns a peer its copy is in flight to, and the id.
func staggered(h *harness) (peer.ID, string) {
	h.addN(1, 7, topicA)
	h.join(topicA)
	m, id := msg(pid(99), topicA, h.a.cfg.Stagger.MinData)
	src := h.mesh(topicA)[0]
	h.a.HandleMessage(h.now, src, m, id, true, &h.out)
	h.reset()
	if o := h.a.Validated(h.now, id, ValidationAccept, &h.out); o != OutcomeDelivered {
		h.t.Fatalf("Validated = %v", o)
	}
	return h.out.Sends[0].To, id
}

func validate(h *harness, res ValidationResult) Outcome {
	h.join(topicA)
	p := h.add(1, wire.ProtocolMeshsub12, false, topicA)
	m, id := msg(p, topicA, 10)
	if o := h.a.HandleMessage(h.now, p, m, id, true, &h.out); o != OutcomeNeedsValidation {
		h.t.Fatalf("HandleMessage = %v", o)
	}
	return h.a.Validated(h.now, id, res, &h.out)
}

func TestOutcomes(t *testing.T) {
	for _, c := range outcomeCases {
		t.Run(c.want.String()+"/"+c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			if got := c.run(h); got != c.want {
				t.Fatalf("outcome = %v, want %v", got, c.want)
			}
		})
	}
}

func TestOutcomeCasesCoverEveryOutcome(t *testing.T) {
	covered := map[Outcome]bool{}
	for _, c := range outcomeCases {
		covered[c.want] = true
	}
	for _, o := range Outcomes() {
		if !covered[o] {
			t.Errorf("no test case produces %v", o)
		}
	}
}

func TestOutcomeNames(t *testing.T) {
	seen := map[string]Outcome{}
	for _, o := range Outcomes() {
		s := o.String()
		if s == "" || s == "unknown" {
			t.Errorf("outcome %d has no name", o)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("outcomes %d and %d share the name %q", prev, o, s)
		}
		seen[s] = o
	}
	if Outcome(0).String() != "unknown" || outcomeEnd.String() != "unknown" {
		t.Error("out-of-range outcomes must print unknown")
	}
	for _, v := range []ValidationResult{ValidationAccept, ValidationReject, ValidationIgnore, ValidationThrottled} {
		if v.String() == "unknown" {
			t.Errorf("validation result %d has no name", v)
		}
	}
	if ValidationResult(0).String() != "unknown" {
		t.Error("zero validation result must print unknown")
	}
}

// Each handler's remaining outcomes (the shared guards) are checked here so
// that every handler is exercised for unknown peers and bad input.
func TestHandlerGuards(t *testing.T) {
	h := newHarness(t, nil)
	h.join(topicA)
	fl := h.add(1, wire.ProtocolFloodsub, false, topicA)
	v10 := h.add(2, wire.ProtocolMeshsub10, false, topicA)
	unknown := pid(99)
	m, id := msg(pid(5), topicA, 1)
	checks := []struct {
		name string
		got  Outcome
		want Outcome
	}{
		{"RemovePeer unknown", h.a.RemovePeer(h.now, unknown, &h.out), OutcomeUnknownPeer},
		{"UpdatePeerRecord of a peer not tracked yet", h.a.UpdatePeerRecord(unknown, nil), OutcomeRecordUpdated},
		{"HandleSubscription unknown", h.a.HandleSubscription(h.now, unknown, topicA, true, &h.out), OutcomeUnknownPeer},
		{"HandlePrune unknown", h.a.HandlePrune(h.now, unknown, prune(topicA, 0), &h.out), OutcomeUnknownPeer},
		{"HandleIHave unknown", h.a.HandleIHave(h.now, unknown, ihave(topicA, "x"), &h.out), OutcomeUnknownPeer},
		{"HandleIWant unknown", h.a.HandleIWant(h.now, unknown, iwant("x"), &h.out), OutcomeUnknownPeer},
		{"HandleIDontWant unknown", h.a.HandleIDontWant(h.now, unknown, idontwant("x"), &h.out), OutcomeUnknownPeer},
		{"HandleMessage unknown", h.a.HandleMessage(h.now, unknown, m, id, true, &h.out), OutcomeUnknownPeer},
		{"AddPeer self", h.a.AddPeer(h.now, PeerSpec{ID: pid(0), Protocol: wire.ProtocolMeshsub12}, &h.out), OutcomeInvalidInput},
		{"HandlePrune floodsub", h.a.HandlePrune(h.now, fl, prune(topicA, 0), &h.out), OutcomeUnsupportedByProtocol},
		{"HandleIHave floodsub", h.a.HandleIHave(h.now, fl, ihave(topicA, "x"), &h.out), OutcomeUnsupportedByProtocol},
		{"HandleIWant floodsub", h.a.HandleIWant(h.now, fl, iwant("x"), &h.out), OutcomeUnsupportedByProtocol},
		{"HandleIDontWant v1.0", h.a.HandleIDontWant(h.now, v10, idontwant("x"), &h.out), OutcomeUnsupportedByProtocol},
		{"HandlePrune empty topic", h.a.HandlePrune(h.now, v10, &pb.ControlPrune{}, &h.out), OutcomeInvalidInput},
		{"HandlePrune unjoined", h.a.HandlePrune(h.now, v10, prune("other", 0), &h.out), OutcomeTopicNotJoined},
		{"HandleIHave unjoined", h.a.HandleIHave(h.now, v10, ihave("other", "x"), &h.out), OutcomeTopicNotJoined},
		{"HandleGraft unjoined", h.a.HandleGraft(h.now, v10, "other", &h.out), OutcomeTopicNotJoined},
		{"HandleGraft unsubscribed", h.a.HandleGraft(h.now, h.add(3, wire.ProtocolMeshsub12, false), topicA, &h.out), OutcomeNotSubscribed},
		{"HandleGraft empty topic", h.a.HandleGraft(h.now, v10, "", &h.out), OutcomeInvalidInput},
		{"HandleMessage nil", h.a.HandleMessage(h.now, v10, nil, "id", true, &h.out), OutcomeInvalidInput},
		{"HandleMessage empty id", h.a.HandleMessage(h.now, v10, m, "", true, &h.out), OutcomeInvalidInput},
		{"Publish nil", h.a.Publish(h.now, nil, "id", &h.out), OutcomeInvalidInput},
		{"Join empty", h.a.Join(h.now, "", &h.out), OutcomeInvalidInput},
		{"Leave empty", h.a.Leave(h.now, "", &h.out), OutcomeInvalidInput},
		{"Reject no reason", h.a.Reject(h.now, v10, topicA, "id", 0, &h.out), OutcomeInvalidInput},
		{"Reject", h.a.Reject(h.now, v10, topicA, "id", events.RejectInvalidSignature, &h.out), OutcomeRejected},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	m2, id2 := msg(v10, "other", 1)
	if o := h.a.HandleMessage(h.now, v10, m2, id2, true, &h.out); o != OutcomeTopicNotJoined {
		t.Errorf("HandleMessage unjoined = %v", o)
	}
	m3, id3 := msg(v10, topicA, 1)
	h.a.HandleMessage(h.now, v10, m3, id3, true, &h.out)
	if o := h.a.Validated(h.now, id3, 0, &h.out); o != OutcomeInvalidInput {
		t.Errorf("Validated(0) = %v", o)
	}
	if o := h.a.Validated(h.now, id3, ValidationThrottled, &h.out); o != OutcomeIgnored {
		t.Errorf("Validated(throttled) = %v", o)
	}
	m4, id4 := msg(v10, topicA, 1)
	h.a.HandleMessage(h.now, v10, m4, id4, true, &h.out)
	h.a.Leave(h.now, topicA, &h.out)
	if o := h.a.Validated(h.now, id4, ValidationAccept, &h.out); o != OutcomeTopicNotJoined {
		t.Errorf("Validated after leave = %v", o)
	}
}

// v14Peer adds peer i (/meshsub/1.3.0, v1.4 support) subscribed to
// topicA, joining topicA first if need be.
func v14Peer(h *harness, i int) peer.ID {
	if !h.a.Joined(topicA) {
		h.join(topicA)
	}
	p := h.add(i, wire.ProtocolMeshsub13, true, topicA)
	h.a.SetPeerLargeMessages(p, true)
	return p
}
