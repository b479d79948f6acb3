package automaton

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
	"github.com/meshbus/meshbus/events"
)

// TestCoreBackoffSchedule follows one unreachable peer through the whole
// schedule on a mock clock: 120 s, 480 s, 1920 s, 7680 s, then never again.
func TestCoreBackoffSchedule(t *testing.T) {
	ids := identities(t, 1, 2)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	p := ids[1].id
	if err := c.addPeer(peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{addr(t, 1)}}, events.SourceStatic, clk.Now()); err != nil {
		t.Fatal(err)
	}
	c.takeOutbox()
	waits := []time.Duration{120 * time.Second, 480 * time.Second, 1920 * time.Second, 7680 * time.Second}
	for attempt := 1; attempt <= 5; attempt++ {
		c.connectivity(clk.Now())
		o := c.takeOutbox()
		if len(o.Dials) != 1 || o.Dials[0].Peer != p || o.Dials[0].Attempt != attempt {
			t.Fatalf("attempt %d: dials = %+v", attempt, o.Dials)
		}
		if a := eventsOf[events.EvtDialAttempted](o); len(a) != 1 || a[0].Attempt != attempt {
			t.Fatalf("attempt %d: EvtDialAttempted = %+v", attempt, a)
		}
		// While the dial is in flight the peer is not dialed twice.
		c.connectivity(clk.Now())
		if o := c.takeOutbox(); len(o.Dials) != 0 {
			t.Fatalf("attempt %d: dialed twice while in flight", attempt)
		}
		c.onDialResult(DialResult{Dial: o.Dials[0], Reason: events.DialFailError, Err: errors.New("refused")}, clk.Now())
		o = c.takeOutbox()
		failed := eventsOf[events.EvtDialFailed](o)
		backed := eventsOf[events.EvtPeerBackedOff](o)
		if len(failed) != 1 || failed[0].Failures != attempt || failed[0].Reason != events.DialFailError || failed[0].Err != "refused" {
			t.Fatalf("attempt %d: EvtDialFailed = %+v", attempt, failed)
		}
		if len(backed) != 1 || backed[0].Failures != attempt {
			t.Fatalf("attempt %d: EvtPeerBackedOff = %+v", attempt, backed)
		}
		if attempt == 5 {
			if !backed[0].Permanent || !backed[0].Until.IsZero() {
				t.Fatalf("5th failure: %+v, want a permanent backoff", backed[0])
			}
			break
		}
		wait := waits[attempt-1]
		if want := clk.Now().Add(wait); !backed[0].Until.Equal(want) || backed[0].Permanent {
			t.Fatalf("attempt %d: until %v, want %v", attempt, backed[0].Until, want)
		}
		// One second early: still backed off.
		clk.Add(wait - time.Second)
		c.connectivity(clk.Now())
		if o := c.takeOutbox(); len(o.Dials) != 0 {
			t.Fatalf("attempt %d: dialed %v before the backoff ended", attempt, wait-time.Second)
		}
		clk.Add(time.Second)
	}
	clk.Add(365 * 24 * time.Hour)
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); len(o.Dials) != 0 {
		t.Fatal("a peer past the failure limit was dialed again")
	}
	got, _ := c.store.Get(p)
	if got.Failures != 5 {
		t.Fatalf("failures = %d, want 5", got.Failures)
	}
}

func TestCoreDialSuccessResetsAndCancelDoesNotCount(t *testing.T) {
	ids := identities(t, 2, 2)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	p := ids[1].id
	_ = c.addPeer(peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{addr(t, 1)}}, events.SourceExchange, clk.Now())
	c.connectivity(clk.Now())
	job := c.takeOutbox().Dials[0]
	c.onDialResult(DialResult{Dial: job, Reason: events.DialFailTimeout, Err: errors.New("deadline")}, clk.Now())
	c.takeOutbox()
	clk.Add(120 * time.Second)
	c.connectivity(clk.Now())
	job = c.takeOutbox().Dials[0]
	c.onDialResult(DialResult{Dial: job, Reason: events.DialFailCanceled}, clk.Now())
	o := c.takeOutbox()
	if f := eventsOf[events.EvtDialFailed](o); len(f) != 1 || f[0].Failures != 1 || f[0].Reason != events.DialFailCanceled {
		t.Fatalf("canceled dial: %+v", f)
	}
	if b := eventsOf[events.EvtPeerBackedOff](o); len(b) != 0 {
		t.Fatalf("a canceled dial backed the peer off: %+v", b)
	}
	c.connectivity(clk.Now())
	job = c.takeOutbox().Dials[0]
	clk.Add(250 * time.Millisecond)
	c.onDialResult(DialResult{Dial: job}, clk.Now())
	o = c.takeOutbox()
	if s := eventsOf[events.EvtDialSucceeded](o); len(s) != 1 || s[0].Took != 250*time.Millisecond {
		t.Fatalf("EvtDialSucceeded = %+v", s)
	}
	if got, _ := c.store.Get(p); got.Failures != 0 || !got.BackoffUntil.IsZero() {
		t.Fatalf("success left failures %d, backoff %v", got.Failures, got.BackoffUntil)
	}
}

func TestCoreAddPeerRejectsBadInput(t *testing.T) {
	ids := identities(t, 3, 2)
	c := testCore(t, ids[0].id)
	now := time.Unix(0, 0)
	cases := []struct {
		ai   peer.AddrInfo
		src  events.PeerSource
		want error
	}{
		{peer.AddrInfo{}, events.SourceStatic, ErrInvalidPeer},
		{peer.AddrInfo{ID: ids[0].id, Addrs: []ma.Multiaddr{addr(t, 1)}}, events.SourceStatic, ErrSelf},
		{peer.AddrInfo{ID: ids[1].id}, events.SourceStatic, ErrNoAddresses},
		{peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{nil}}, events.SourceStatic, ErrNoAddresses},
		{peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{addr(t, 1)}}, 0, ErrInvalidSource},
		{peer.AddrInfo{ID: ids[1].id, Addrs: []ma.Multiaddr{addr(t, 1)}}, 99, ErrInvalidSource},
	}
	for i, tc := range cases {
		if err := c.addPeer(tc.ai, tc.src, now); !errors.Is(err, tc.want) {
			t.Errorf("case %d: err = %v, want %v", i, err, tc.want)
		}
	}
	if c.store.Len() != 0 {
		t.Fatalf("bad input entered the store: %d peers", c.store.Len())
	}
}

func TestPlanConnectivityTargetsAndInterval(t *testing.T) {
	ids := identities(t, 4, 60)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id, WithColocationLimit(0))
	now := clk.Now()
	// 3 outbound mesh peers connected: below half the target of 10.
	for i := 1; i <= 3; i++ {
		c.onConnOpened(connOpen(ids[i].id, network.DirOutbound, "10.1.0.1", now), now)
	}
	// 25 inbound, connected one second apart: 5 over the inbound target.
	for i := 4; i < 29; i++ {
		clk.Add(time.Second)
		c.onConnOpened(connOpen(ids[i].id, network.DirInbound, "10.2.0.1", clk.Now()), clk.Now())
	}
	// 20 candidates.
	for i := 29; i < 49; i++ {
		_ = c.addPeer(peer.AddrInfo{ID: ids[i].id, Addrs: []ma.Multiaddr{addr(t, i)}}, events.SourceExchange, clk.Now())
	}
	c.takeOutbox()
	next := c.connectivity(clk.Now())
	o := c.takeOutbox()
	if len(o.Dials) != 7 {
		t.Fatalf("dials = %d, want 7 (target 10 - 3 connected)", len(o.Dials))
	}
	if next != DefaultConfig().FastConnectivityInterval {
		t.Fatalf("next = %v, want the fast interval while 3 < 10/2", next)
	}
	ev := eventsOf[events.EvtPeerEvicted](o)
	if len(o.Closes) != 5 || len(ev) != 5 {
		t.Fatalf("trimmed %d (%d events), want 5", len(o.Closes), len(ev))
	}
	// The newest inbound peers go first.
	for i, id := range o.Closes {
		if want := ids[28-i].id; id != want || ev[i].Reason != events.EvictExcessInbound || ev[i].Removed {
			t.Fatalf("trim %d: %s (%+v), want %s", i, id, ev[i], want)
		}
	}
	// With the 7 dials in flight nothing more is dialed.
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); len(o.Dials) != 0 {
		t.Fatalf("dialed %d more with the deficit already in flight", len(o.Dials))
	}
	// Dials connect: 10 outbound; interval back to normal.
	for _, j := range o.Dials {
		c.onDialResult(DialResult{Dial: j}, clk.Now())
		c.onConnOpened(connOpen(j.Peer, network.DirOutbound, "10.3.0.1", clk.Now()), clk.Now())
	}
	if next := c.connectivity(clk.Now()); next != DefaultConfig().ConnectivityInterval {
		t.Fatalf("next = %v at target, want the normal interval", next)
	}
	if o := c.takeOutbox(); len(o.Dials) != 0 {
		t.Fatalf("dialed %d at target", len(o.Dials))
	}
}

func TestPlanConnectivityParallelLimitAndOrder(t *testing.T) {
	ids := identities(t, 5, 40)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id, WithMaxConnections(100), WithMaxParallelDials(4))
	// Target outbound is 20; only 4 dials may fly at once.
	for i := 1; i < 30; i++ {
		clk.Add(time.Second)
		src := events.SourceExchange
		if i == 29 {
			src = events.SourceStatic
		}
		_ = c.addPeer(peer.AddrInfo{ID: ids[i].id, Addrs: []ma.Multiaddr{addr(t, i)}}, src, clk.Now())
	}
	// Peer 28 has failed once (and its backoff is over): it goes last.
	c.store.DialFailed(ids[28].id, clk.Now(), clk.Now())
	c.connectivity(clk.Now())
	o := c.takeOutbox()
	got := make([]peer.ID, 0, len(o.Dials))
	for _, d := range o.Dials {
		got = append(got, d.Peer)
	}
	// Static first, then the most recently seen peers without failures.
	want := []peer.ID{ids[29].id, ids[27].id, ids[26].id, ids[25].id}
	if !slices.Equal(got, want) {
		t.Fatalf("dial order %v, want %v", got, want)
	}
}

// TestColocationEvictsByScoreThenNewest: over the limit on one IP, the
// lowest-scored peer goes first, and among equal scores the newest
// connection (fresh identities lose to peers that earned their place);
// pinned peers are spared; loopback and listed ranges are exempt.
func TestColocationEvictsByScoreThenNewest(t *testing.T) {
	ids := identities(t, 6, 8)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id, WithColocationLimit(2))
	// Peers 1 and 2 are honest and scored; 3 arrives fresh (score 0).
	c.onScores(events.EvtPeerScoresUpdated{Scores: []events.PeerScore{{Peer: ids[1].id, Score: 5}, {Peer: ids[2].id, Score: 3}}, Thresholds: events.ScoreThresholds{Graylist: -80}}, clk.Now())
	for i := 1; i <= 3; i++ {
		clk.Add(time.Second)
		if got := c.onConnOpened(connOpen(ids[i].id, network.DirInbound, "192.0.2.7", clk.Now()), clk.Now()); i == 3 && got != OutcomeColocationEvicted {
			t.Fatalf("third peer: outcome %v, want %v", got, OutcomeColocationEvicted)
		}
	}
	o := c.takeOutbox()
	ev := eventsOf[events.EvtPeerEvicted](o)
	if len(ev) != 1 || ev[0].Peer != ids[3].id || ev[0].Reason != events.EvictColocation || !ev[0].Removed {
		t.Fatalf("third peer on the IP: evicted %+v, want the fresh one removed", ev)
	}
	if c.store.Has(ids[3].id) || len(o.Closes) != 1 || o.Closes[0] != ids[3].id {
		t.Fatal("the evicted peer was not disconnected and removed")
	}
	// Equal scores: the newest goes. Peer 4 (score 3, like peer 2) arrives.
	c.onScores(events.EvtPeerScoresUpdated{Scores: []events.PeerScore{{Peer: ids[1].id, Score: 5}, {Peer: ids[2].id, Score: 3}, {Peer: ids[4].id, Score: 3}}, Thresholds: events.ScoreThresholds{Graylist: -80}}, clk.Now())
	clk.Add(time.Second)
	c.onConnOpened(connOpen(ids[4].id, network.DirInbound, "192.0.2.7", clk.Now()), clk.Now())
	if ev := eventsOf[events.EvtPeerEvicted](c.takeOutbox()); len(ev) != 1 || ev[0].Peer != ids[4].id {
		t.Fatalf("equal scores: evicted %+v, want the newest (peer 4)", ev)
	}
	// A low score loses even when old: peer 2 drops below a newcomer.
	c.onScores(events.EvtPeerScoresUpdated{Scores: []events.PeerScore{{Peer: ids[1].id, Score: 5}, {Peer: ids[2].id, Score: -1}}, Thresholds: events.ScoreThresholds{Graylist: -80}}, clk.Now())
	clk.Add(time.Second)
	c.onConnOpened(connOpen(ids[5].id, network.DirInbound, "192.0.2.7", clk.Now()), clk.Now())
	if ev := eventsOf[events.EvtPeerEvicted](c.takeOutbox()); len(ev) != 1 || ev[0].Peer != ids[2].id {
		t.Fatalf("low score: evicted %+v, want peer 2", ev)
	}
	// A pinned peer is spared: pin the would-be victim (the newest, 6).
	_ = c.addPeer(peer.AddrInfo{ID: ids[6].id, Addrs: []ma.Multiaddr{addr(t, 6)}}, events.SourceDiscovery, clk.Now())
	if err := c.pin("/svc/1", ids[6].id); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	c.onConnOpened(connOpen(ids[6].id, network.DirInbound, "192.0.2.7", clk.Now()), clk.Now())
	if ev := eventsOf[events.EvtPeerEvicted](c.takeOutbox()); len(ev) != 1 || ev[0].Peer != ids[5].id {
		t.Fatalf("with the newest pinned: evicted %+v, want peer 5", ev)
	}
	// Loopback is exempt by default; limit 0 disables; listed ranges are exempt.
	for _, tc := range []struct {
		name string
		ip   string
		opts []Option
	}{
		{"loopback", "127.0.0.1", []Option{WithColocationLimit(1)}},
		{"disabled", "192.0.2.7", []Option{WithColocationLimit(0)}},
		{"listed", "10.1.2.3", []Option{WithColocationLimit(1), WithColocationExempt(netip.MustParsePrefix("10.0.0.0/8"))}},
	} {
		c2 := testCore(t, ids[0].id, tc.opts...)
		for i := 1; i <= 5; i++ {
			c2.onConnOpened(connOpen(ids[i].id, network.DirInbound, tc.ip, clk.Now()), clk.Now())
		}
		if ev := eventsOf[events.EvtPeerEvicted](c2.takeOutbox()); len(ev) != 0 {
			t.Fatalf("%s: evicted %+v", tc.name, ev)
		}
	}
	// With no exempt range, loopback is limited like any address.
	c3 := testCore(t, ids[0].id, WithColocationLimit(1), WithColocationExempt())
	for i := 1; i <= 3; i++ {
		c3.onConnOpened(connOpen(ids[i].id, network.DirInbound, "127.0.0.1", clk.Now()), clk.Now())
	}
	if ev := eventsOf[events.EvtPeerEvicted](c3.takeOutbox()); len(ev) != 2 {
		t.Fatalf("loopback not exempt: evicted %d, want 2", len(ev))
	}
}

// TestReconnectBackoffGrows: a peer whose connection ends, whoever closed
// it, is not redialed before its reconnect backoff, which doubles with each
// short-lived connection up to the cap and starts over after a stable one.
func TestReconnectBackoffGrows(t *testing.T) {
	ids := identities(t, 11, 2)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	p := ids[1].id
	if err := c.addPeer(peer.AddrInfo{ID: p, Addrs: []ma.Multiaddr{addr(t, 1)}}, events.SourceExchange, clk.Now()); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	wait := cfg.ReconnectBackoff
	for round := 1; round <= 10; round++ {
		c.takeOutbox()
		c.connectivity(clk.Now())
		o := c.takeOutbox()
		if len(o.Dials) != 1 {
			t.Fatalf("round %d: %d dials, want 1", round, len(o.Dials))
		}
		c.onDialResult(DialResult{Dial: o.Dials[0]}, clk.Now())
		ev := connOpen(p, network.DirOutbound, "192.0.2.1", clk.Now())
		c.onConnOpened(ev, clk.Now())
		clk.Add(time.Second) // a short-lived connection
		if got := c.onConnClosed(events.EvtConnClosed{Peer: p, ConnID: ev.ConnID}, clk.Now()); got != OutcomeDisconnectBackedOff {
			t.Fatalf("round %d: outcome %v", round, got)
		}
		b := eventsOf[events.EvtPeerBackedOff](c.takeOutbox())
		if len(b) != 1 || b[0].Reconnects != round || !b[0].Until.Equal(clk.Now().Add(wait)) {
			t.Fatalf("round %d: backoff %+v, want %v (reconnect %d)", round, b, wait, round)
		}
		clk.Add(wait - time.Millisecond)
		c.connectivity(clk.Now())
		if o := c.takeOutbox(); len(o.Dials) != 0 {
			t.Fatalf("round %d: redialed %v into a %v backoff", round, wait-time.Millisecond, wait)
		}
		clk.Add(time.Millisecond)
		wait = min(2*wait, cfg.MaxReconnectBackoff)
	}
	if wait != cfg.MaxReconnectBackoff {
		t.Fatalf("after 10 rounds the backoff is %v, want the cap %v", wait, cfg.MaxReconnectBackoff)
	}
	// A stable connection resets the growth.
	c.connectivity(clk.Now())
	o := c.takeOutbox()
	c.onDialResult(DialResult{Dial: o.Dials[0]}, clk.Now())
	ev := connOpen(p, network.DirOutbound, "192.0.2.1", clk.Now())
	c.onConnOpened(ev, clk.Now())
	clk.Add(cfg.StableConnection)
	c.onConnClosed(events.EvtConnClosed{Peer: p, ConnID: ev.ConnID}, clk.Now())
	if b := eventsOf[events.EvtPeerBackedOff](c.takeOutbox()); len(b) != 1 || b[0].Reconnects != 1 || !b[0].Until.Equal(clk.Now().Add(cfg.ReconnectBackoff)) {
		t.Fatalf("after a stable connection: %+v", b)
	}
}

// TestDialRateIsBounded: with many candidates, dials never start faster
// than DialRate per second (after the initial burst of MaxParallelDials),
// and the pass asks to run again when the next token is earned.
func TestDialRateIsBounded(t *testing.T) {
	ids := identities(t, 12, 200)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id, WithMaxConnections(1000), WithMaxParallelDials(10), WithDialRate(2))
	for i := 1; i < 200; i++ {
		_ = c.addPeer(peer.AddrInfo{ID: ids[i].id, Addrs: []ma.Multiaddr{addr(t, i)}}, events.SourceExchange, clk.Now())
	}
	c.takeOutbox()
	started := 0
	const steps = 100 // 10 s in 100 ms steps
	for range steps {
		c.connectivity(clk.Now())
		o := c.takeOutbox()
		for _, d := range o.Dials {
			started++
			// Every dial fails at once: the slot is free again.
			c.onDialResult(DialResult{Dial: d, Reason: events.DialFailError}, clk.Now())
		}
		c.takeOutbox()
		clk.Add(100 * time.Millisecond)
	}
	// Burst of 10, then 2 per second for 10 s: at most 30.
	if started > 30 || started < 25 {
		t.Fatalf("%d dials started in 10 s at 2/s with a burst of 10, want 25..30", started)
	}
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); o.Next > time.Second {
		t.Fatalf("starved pass asks to run again in %v, want within the token period", o.Next)
	}
}

// TestStaticPeersKeptConnectedAndProtected: a static peer is protected in
// the connection manager and dialed whenever not connected, even at the
// outbound target; mesh membership protects a peer until its last mesh.
func TestStaticPeersKeptConnectedAndProtected(t *testing.T) {
	ids := identities(t, 13, 20)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id, WithMaxConnections(3), WithMeshRatio(1)) // outbound target 1
	c.onConnOpened(connOpen(ids[1].id, network.DirOutbound, "192.0.2.1", clk.Now()), clk.Now())
	c.takeOutbox()
	if err := c.addPeer(peer.AddrInfo{ID: ids[2].id, Addrs: []ma.Multiaddr{addr(t, 2)}}, events.SourceStatic, clk.Now()); err != nil {
		t.Fatal(err)
	}
	o := c.takeOutbox()
	if len(o.Protections) != 1 || o.Protections[0] != (Protection{Peer: ids[2].id, Tag: TagStatic, Protect: true}) {
		t.Fatalf("static peer protections %+v", o.Protections)
	}
	c.connectivity(clk.Now())
	if o := c.takeOutbox(); len(o.Dials) != 1 || o.Dials[0].Peer != ids[2].id {
		t.Fatalf("at the outbound target the static peer was not dialed: %+v", o.Dials)
	}
	p := ids[3].id
	c.HandleMeshChange(clk.Now(), MeshChange{Peer: p, Joined: true}, &c.out)
	c.HandleMeshChange(clk.Now(), MeshChange{Peer: p, Joined: true}, &c.out)
	c.HandleMeshChange(clk.Now(), MeshChange{Peer: p}, &c.out)
	if o := c.takeOutbox(); len(o.Protections) != 1 || !o.Protections[0].Protect || o.Protections[0].Tag != TagMesh {
		t.Fatalf("mesh in two topics, pruned from one: %+v", o.Protections)
	}
	if got := c.HandleMeshChange(clk.Now(), MeshChange{Peer: p}, &c.out); got != OutcomeMeshChanged {
		t.Fatalf("last mesh left: %v", got)
	}
	if o := c.takeOutbox(); len(o.Protections) != 1 || o.Protections[0].Protect {
		t.Fatalf("unprotect: %+v", o.Protections)
	}
}

// TestOutcomesHaveNames: every outcome has a distinct name.
func TestOutcomesHaveNames(t *testing.T) {
	seen := map[string]Outcome{}
	for _, o := range Outcomes() {
		n := o.String()
		if n == "" || n == "unknown" {
			t.Fatalf("outcome %d has no name", o)
		}
		if prev, dup := seen[n]; dup {
			t.Fatalf("outcomes %d and %d share the name %q", prev, o, n)
		}
		seen[n] = o
	}
	if Outcome(0).String() != "unknown" || outcomeEnd.String() != "unknown" {
		t.Fatal("out-of-range outcomes have names")
	}
}

func TestCapacityPruneOrder(t *testing.T) {
	ids := identities(t, 7, 10)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id, WithStoreCapacity(5))
	add := func(i int, src events.PeerSource) {
		_ = c.addPeer(peer.AddrInfo{ID: ids[i].id, Addrs: []ma.Multiaddr{addr(t, i)}}, src, clk.Now())
	}
	// Peers 1..5: 1 connected, 2 static, 3 failed out, 4 and 5 plain (4 older).
	for i := 1; i <= 5; i++ {
		clk.Add(time.Minute)
		src := events.SourceExchange
		if i == 2 {
			src = events.SourceStatic
		}
		add(i, src)
	}
	c.onConnOpened(connOpen(ids[1].id, network.DirOutbound, "10.9.0.1", clk.Now()), clk.Now())
	for range 5 {
		c.store.DialFailed(ids[3].id, clk.Now(), time.Time{})
	}
	c.takeOutbox()
	// Two more: 7 peers, capacity 5: the failed one, then the oldest plain.
	clk.Add(time.Minute)
	add(6, events.SourceExchange)
	add(7, events.SourceExchange)
	ev := eventsOf[events.EvtPeerEvicted](c.takeOutbox())
	if len(ev) != 2 {
		t.Fatalf("pruned %+v, want 2", ev)
	}
	if ev[0].Peer != ids[3].id || ev[0].Reason != events.EvictFailures || !ev[0].Removed {
		t.Fatalf("first pruned %+v, want the failed peer", ev[0])
	}
	if ev[1].Peer != ids[4].id || ev[1].Reason != events.EvictCapacity {
		t.Fatalf("second pruned %+v, want the longest unseen peer", ev[1])
	}
	for _, keep := range []int{1, 2, 5, 6, 7} {
		if !c.store.Has(ids[keep].id) {
			t.Fatalf("peer %d was pruned", keep)
		}
	}
}

func TestGraylistDisconnectsAndBacksOff(t *testing.T) {
	ids := identities(t, 8, 3)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	p := ids[1].id
	c.onConnOpened(connOpen(p, network.DirOutbound, "10.0.0.9", clk.Now()), clk.Now())
	c.takeOutbox()
	c.onThreshold(events.EvtPeerScoreThresholdCrossed{Peer: p, Threshold: events.ThresholdGossip, Below: true}, clk.Now())
	if o := c.takeOutbox(); len(o.Facts) != 0 || len(o.Closes) != 0 {
		t.Fatal("a gossip threshold crossing acted like a graylisting")
	}
	c.onThreshold(events.EvtPeerScoreThresholdCrossed{Peer: p, Threshold: events.ThresholdGraylist, Below: true, Score: -90}, clk.Now())
	o := c.takeOutbox()
	ev := eventsOf[events.EvtPeerEvicted](o)
	b := eventsOf[events.EvtPeerBackedOff](o)
	if len(o.Closes) != 1 || len(ev) != 1 || ev[0].Reason != events.EvictGraylisted || ev[0].Removed {
		t.Fatalf("graylisting: closes %v, evicted %+v", o.Closes, ev)
	}
	if len(b) != 1 || !b[0].Graylisted || !b[0].Until.Equal(clk.Now().Add(120*time.Second)) {
		t.Fatalf("graylisting backoff: %+v", b)
	}
	// Reconnecting while graylisted is refused again.
	c.onConnClosed(events.EvtConnClosed{Peer: p, ConnID: connOpen(p, network.DirOutbound, "10.0.0.9", clk.Now()).ConnID}, clk.Now())
	c.onConnOpened(connOpen(p, network.DirInbound, "10.0.0.9", clk.Now()), clk.Now())
	if o := c.takeOutbox(); len(o.Closes) != 1 {
		t.Fatal("a graylisted peer reconnected unchallenged")
	}
	// A snapshot with the peer above the threshold clears it; one below
	// graylists the other peer.
	c.onConnOpened(connOpen(ids[2].id, network.DirOutbound, "10.0.0.10", clk.Now()), clk.Now())
	c.takeOutbox()
	c.onScores(events.EvtPeerScoresUpdated{
		Scores:     []events.PeerScore{{Peer: p, Score: 0}, {Peer: ids[2].id, Score: -100}},
		Thresholds: events.ScoreThresholds{Graylist: -80},
	}, clk.Now())
	o = c.takeOutbox()
	if got, _ := c.store.Get(p); got.Graylisted {
		t.Fatal("snapshot above the threshold did not clear the graylisting")
	}
	if len(o.Closes) != 1 || o.Closes[0] != ids[2].id {
		t.Fatalf("snapshot below the threshold: closes %v", o.Closes)
	}
}

func TestServiceSlots(t *testing.T) {
	ids := identities(t, 9, 5)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	const store = protocol.ID("/vac/waku/store/2.0.0")
	if _, err := c.selectPeer(store); !errors.Is(err, ErrNoPeer) {
		t.Fatalf("selectPeer with nobody: %v", err)
	}
	if err := c.pin(store, ids[4].id); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("pin unknown: %v", err)
	}
	// Peers 1 and 2 speak the protocol (2 connected first), 3 does not.
	for _, i := range []int{2, 1, 3} {
		clk.Add(time.Second)
		c.onConnOpened(connOpen(ids[i].id, network.DirOutbound, "10.0.0.1", clk.Now()), clk.Now())
		protos := []protocol.ID{"/ipfs/id/1.0.0"}
		if i != 3 {
			protos = append(protos, store)
		}
		c.onIdentified(events.EvtPeerIdentificationCompleted{Peer: ids[i].id, Protocols: protos}, clk.Now())
	}
	if got, err := c.selectPeer(store); err != nil || got != ids[2].id {
		t.Fatalf("selectPeer = %s, %v; want the longest connected speaker", got, err)
	}
	// A pinned peer wins even when it is not connected, and is dialed.
	_ = c.addPeer(peer.AddrInfo{ID: ids[4].id, Addrs: []ma.Multiaddr{addr(t, 4)}}, events.SourceDiscovery, clk.Now())
	if err := c.pin(store, ids[4].id); err != nil {
		t.Fatal(err)
	}
	if got, err := c.selectPeer(store); err != nil || got != ids[4].id {
		t.Fatalf("selectPeer = %s, %v; want the pinned peer", got, err)
	}
	c.takeOutbox()
	c.connectivity(clk.Now())
	o := c.takeOutbox()
	if len(o.Dials) == 0 || o.Dials[0].Peer != ids[4].id {
		t.Fatalf("pinned peer not dialed first: %+v", o.Dials)
	}
	// Clearing the slot falls back to the connected speakers.
	if err := c.pin(store, ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.selectPeer(store); got != ids[2].id {
		t.Fatalf("after unpin selectPeer = %s", got)
	}
	// Identified peers without a mesh protocol do not count as mesh peers.
	var p3 peerstore.Peer
	c.store.View(ids[3].id, func(p *peerstore.Peer) { p3 = *p })
	if c.isMesh(&p3) {
		t.Fatal("a peer without a mesh protocol counts as mesh")
	}
}

func TestExchangeVerifiesRecords(t *testing.T) {
	ids := identities(t, 10, 8)
	clk := clock.NewMock()
	c := testCore(t, ids[0].id)
	from := ids[1].id
	good := signedRecord(t, ids[2].priv, ids[2].id, addr(t, 2))
	ev := events.EvtPeerExchangeReceived{From: from, Topic: "t", Records: []events.PeerExchangeRecord{
		{Peer: ids[2].id, SignedPeerRecord: good},
		// Signed by peer 3 but claimed as peer 4.
		{Peer: ids[4].id, SignedPeerRecord: signedRecord(t, ids[3].priv, ids[3].id, addr(t, 3))},
		// Signed by peer 5 about peer 6's id.
		{Peer: ids[6].id, SignedPeerRecord: signedRecord(t, ids[5].priv, ids[6].id, addr(t, 6))},
		{Peer: ids[5].id},
		{Peer: ids[5].id, SignedPeerRecord: []byte("not an envelope")},
		{Peer: ids[7].id, SignedPeerRecord: signedRecordWithRawAddr(t, ids[7].priv, ids[7].id, []byte{0xff, 0xfe, 0x01})},
		{Peer: ids[5].id, SignedPeerRecord: signedRecord(t, ids[5].priv, ids[5].id)},
		{Peer: ids[0].id, SignedPeerRecord: signedRecord(t, ids[0].priv, ids[0].id, addr(t, 0))},
		{Peer: ids[5].id, SignedPeerRecord: make([]byte, MaxRecordSize+1)},
	}}
	if n := c.onExchange(ev, clk.Now()); n != 1 {
		t.Fatalf("added %d peers, want 1", n)
	}
	o := c.takeOutbox()
	d := eventsOf[events.EvtPeerDiscovered](o)
	if len(d) != 1 || d[0].Peer != ids[2].id || d[0].Source != events.SourceExchange || len(d[0].Addrs) != 1 || !d[0].Addrs[0].Equal(addr(t, 2)) {
		t.Fatalf("discovered %+v", d)
	}
	var reasons []string
	for _, r := range eventsOf[events.EvtPeerRecordRejected](o) {
		if r.From != from {
			t.Fatalf("rejection without the sender: %+v", r)
		}
		reasons = append(reasons, r.Reason)
	}
	want := []string{RejectPeerIDMismatch, RejectPeerIDMismatch, RejectUnsigned, RejectBadEnvelope,
		RejectUnparseableAddress, RejectNoAddresses, RejectSelf, RejectOversized}
	if !slices.Equal(reasons, want) {
		t.Fatalf("reasons %v, want %v", reasons, want)
	}
	if c.store.Len() != 1 {
		t.Fatalf("store holds %d peers, want only the valid one", c.store.Len())
	}
}
