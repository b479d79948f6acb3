package sim

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/events"
)

func repeat(b Behavior, n int) []Behavior {
	out := make([]Behavior, n)
	for i := range out {
		out[i] = b
	}
	return out
}

// Invalid senders' messages are validated and rejected by every honest
// node, with RejectValidationFailed for the sender, never delivered nor
// forwarded; honest traffic is unaffected.
func TestInvalidSendersRejected(t *testing.T) {
	s := mustNew(t, Config{Nodes: 100, Degree: 4, Seed: 11, ValidationDelay: 5 * time.Millisecond,
		Adversaries: repeat(InvalidSender, 10), InvalidPerHeartbeat: 2})
	s.Run(3 * time.Second)
	s.ResetStats()
	publishN(t, s, 20, 128, 250*time.Millisecond)
	s.Run(5 * time.Second)
	st := s.Stats()
	logStats(t, "invalid senders, no scorer", st)
	t.Logf("rejected=%v invalid validated=%d delivered=%d", st.Rejected, st.InvalidValidated, st.InvalidDelivered)
	if st.DeliveryRatio != 1 {
		t.Fatalf("honest delivery %.4f, want 1", st.DeliveryRatio)
	}
	if st.InvalidDelivered != 0 {
		t.Fatalf("%d invalid messages delivered to honest applications", st.InvalidDelivered)
	}
	// 10 senders, each with ~4 honest neighbours, 2 own + 2 relayed
	// messages per heartbeat for about 10 heartbeats: hundreds of
	// validations, each an EvtMessageRejected(RejectValidationFailed).
	if st.InvalidValidated < 300 || st.Rejected[events.RejectValidationFailed] < st.InvalidValidated {
		t.Fatalf("%d invalid messages validated, %d rejected as failed", st.InvalidValidated, st.Rejected[events.RejectValidationFailed])
	}
	if st.Rejected[events.RejectGraylisted] != 0 || st.HonestPenalties != 0 {
		t.Fatalf("graylisted %d, honest penalties %d without a scorer", st.Rejected[events.RejectGraylisted], st.HonestPenalties)
	}
}

// With a scorer that charges invalid messages, invalid senders fall below
// the graylist threshold, after which honest nodes drop their messages
// unvalidated.
func TestInvalidSendersGraylisted(t *testing.T) {
	th := events.ScoreThresholds{Gossip: -10, Publish: -50, Graylist: -100}
	s := mustNew(t, Config{Nodes: 100, Degree: 4, Seed: 12, Adversaries: repeat(InvalidSender, 10),
		Scorer: NewPenaltyScorer(10, 0.99, th)})
	s.Run(10 * time.Second)
	early := s.Stats()
	s.ResetStats()
	publishN(t, s, 20, 128, 250*time.Millisecond)
	s.Run(5 * time.Second)
	st := s.Stats()
	t.Logf("first 10 s: validated %d rejected %v; next 10 s: validated %d rejected %v",
		early.InvalidValidated, early.Rejected, st.InvalidValidated, st.Rejected)
	if st.DeliveryRatio != 1 || st.InvalidDelivered != 0 {
		t.Fatalf("delivery %.4f, invalid delivered %d", st.DeliveryRatio, st.InvalidDelivered)
	}
	if st.Rejected[events.RejectGraylisted] == 0 || st.InvalidValidated*5 > early.InvalidValidated {
		t.Fatalf("after graylisting: %d refused unvalidated, %d validated (first 10 s: %d)",
			st.Rejected[events.RejectGraylisted], st.InvalidValidated, early.InvalidValidated)
	}
	pairs := 0
	for _, i := range s.LiveNodes() {
		a := s.Automaton(i)
		for j := s.cfg.Nodes; j < s.Len(); j++ {
			if p := PeerID(j); a.HasPeer(p) {
				pairs++
				if a.Score(p) >= th.Gossip {
					t.Errorf("node %d scores invalid sender %d at %.1f, want below the gossip threshold", i, j, a.Score(p))
				}
			}
		}
	}
	if pairs == 0 {
		t.Fatal("no honest node is linked to an invalid sender")
	}
	if st.HonestPenalties != 0 {
		t.Fatalf("honest nodes penalised: %v", st.Penalties)
	}
}

// Sybils GRAFT every honest neighbour and re-graft only after the backoff
// a PRUNE gave them: they hold mesh slots without ever earning a behaviour
// penalty, and come back once the backoff of a refused GRAFT has passed.
func TestSybilsGraftWithinTheRules(t *testing.T) {
	// 5 sybils per honest node: meshes fill to Dhi and further GRAFTs are
	// refused with a PRUNE and a backoff.
	s := mustNew(t, Config{Nodes: 40, Degree: 4, Seed: 13, Adversaries: repeat(Sybil, 50)})
	s.Run(5 * time.Second)
	adv, honest := s.MeshSlots()
	type pair struct{ sybil, node int }
	var refused []pair
	for k := s.cfg.Nodes; k < s.Len(); k++ {
		n := s.nodes[k]
		for _, j := range n.neigh {
			if _, ok := n.adv.backoff[j]; ok && !n.adv.mesh[j] {
				refused = append(refused, pair{k, j})
			}
		}
	}
	t.Logf("after 5 s: sybil slots %d, honest slots %d, refused (sybil, node) pairs %d", adv, honest, len(refused))
	if adv == 0 || len(refused) == 0 {
		t.Fatal("want sybils in meshes and some of their GRAFTs refused")
	}
	s.Run(3 * time.Minute) // several backoff periods
	st := s.Stats()
	logStats(t, "sybils", st)
	if st.AdversaryPenalties != 0 || st.HonestPenalties != 0 {
		t.Fatalf("penalties %v: a sybil grafted inside a backoff", st.Penalties)
	}
	back := 0
	for _, p := range refused {
		for _, m := range s.Automaton(p.node).Mesh(s.cfg.Topic) {
			if m == PeerID(p.sybil) {
				back++
			}
		}
	}
	t.Logf("refused pairs now in the mesh: %d of %d", back, len(refused))
	if back == 0 {
		t.Fatal("no refused sybil grafted again after its backoff")
	}
	// A sybil never forwards: honest delivery relies on honest mesh peers
	// and flood publishing, and holds here.
	s.ResetStats()
	publishN(t, s, 10, 64, 300*time.Millisecond)
	s.Run(5 * time.Second)
	if st := s.Stats(); st.DeliveryRatio != 1 {
		t.Fatalf("delivery %.4f", st.DeliveryRatio)
	}
}

// AdversaryDials adds adversaries to each honest node's own dials, on top
// of its Degree honest connections.
func TestAdversaryDials(t *testing.T) {
	s := mustNew(t, Config{Nodes: 50, Degree: 3, Seed: 14, Adversaries: repeat(Sybil, 40), AdversaryDials: 5})
	i, err := s.AddNode()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s.LiveNodes() {
		adv := 0
		for _, j := range s.nodes[n].neigh {
			if s.Behavior(j) != Honest {
				adv++
			}
		}
		if adv < 5 || len(s.nodes[n].neigh)-adv < 3 && n != i {
			t.Fatalf("node %d: %d adversary and %d honest neighbours, want >= 5 and >= 3", n, adv, len(s.nodes[n].neigh)-adv)
		}
	}
	if s.Behavior(-1) != Honest || s.Behavior(s.Len()-1) != Honest || s.Behavior(50) != Sybil {
		t.Fatal("Behavior accessor")
	}
}

func TestAdversaryConfig(t *testing.T) {
	for _, c := range []Config{
		{Nodes: 1, AdversaryDials: -1},
		{Nodes: 1, SpamIDs: -1},
		{Nodes: 1, InvalidPerHeartbeat: -1},
		{Nodes: 1, Adversaries: []Behavior{Honest}},
		{Nodes: 1, Adversaries: []Behavior{InvalidSender + 1}},
	} {
		if _, err := New(c); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v) = %v, want ErrInvalidConfig", c, err)
		}
	}
	if Sybil.String() != "sybil" || InvalidSender.String() != "invalid_sender" {
		t.Error("behaviour names")
	}
	if validate(nil) != automaton.ValidationAccept {
		t.Error("a message without data is valid")
	}
}

func TestAdversariesDeterministic(t *testing.T) {
	run := func() (Stats, int, int) {
		adv := append(repeat(Sybil, 10), repeat(InvalidSender, 10)...)
		adv = append(adv, repeat(IHaveSpammer, 5)...)
		s := mustNew(t, Config{Nodes: 50, Degree: 3, Seed: 15, Adversaries: adv, AdversaryDials: 2,
			ValidationDelay: 3 * time.Millisecond, Jitter: 10 * time.Millisecond,
			Scorer: NewPenaltyScorer(10, 0.99, events.ScoreThresholds{Gossip: -10, Publish: -50, Graylist: -100})})
		publishN(t, s, 20, 64, 200*time.Millisecond)
		s.Run(70 * time.Second)
		a, h := s.MeshSlots()
		return s.Stats(), a, h
	}
	st1, a1, h1 := run()
	st2, a2, h2 := run()
	if !reflect.DeepEqual(st1, st2) || a1 != a2 || h1 != h2 {
		t.Fatalf("runs differ:\n%+v %d %d\n%+v %d %d", st1, a1, h1, st2, a2, h2)
	}
	if st1.InvalidValidated == 0 || st1.Rejected[events.RejectGraylisted] == 0 {
		t.Fatalf("the run exercised no invalid sender: %+v", st1)
	}
}
