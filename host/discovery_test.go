package host

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/network"
	"go.uber.org/fx"

	"github.com/meshbus/meshbus/components/discovery/dht"
	"github.com/meshbus/meshbus/eventbus/bustest"
	"github.com/meshbus/meshbus/events"
)

// TestDHTRendezvousFindsTopicPeers: four nodes know only one bootstrap node
// (which runs the DHT but joins no topic); through DHT rendezvous on the
// topic they find each other, and the peer managers connect every pair.
func TestDHTRendezvousFindsTopicPeers(t *testing.T) {
	mock := clock.NewMock()
	mock.Set(time.Unix(1_700_000_000, 0))
	boot := newNode(t, WithClock(mock), WithDHT(nil))
	bootAddrs, err := boot.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	var nodes []*Node
	var dhts []*dht.DHT
	for range n {
		var d *dht.DHT
		node := newNode(t, WithClock(mock), WithBootstrapPeers(bootAddrs[0].String()),
			WithDHT([]string{"rendezvous"}), WithFx(fx.Populate(&d)))
		nodes = append(nodes, node)
		dhts = append(dhts, d)
	}
	allConnected := func() bool {
		for i, a := range nodes {
			for _, b := range nodes[i+1:] {
				if a.Host().Network().Connectedness(b.ID()) != network.Connected {
					return false
				}
			}
		}
		return true
	}
	deadline := time.Now().Add(60 * time.Second)
	for round := 1; !allConnected(); round++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d rounds not every pair is connected", round-1)
		}
		mock.Add(30 * time.Second) // one discovery round on every node
		for _, d := range dhts {
			bustest.Eventually(t, time.Until(deadline), fmt.Sprintf("discovery round %d", round),
				func() bool { return d.Rounds() >= uint64(round) }, nil)
		}
		for _, node := range nodes {
			_ = node.PeerManager().Peers() // a round trip: found peers handled
		}
		// Found peers are dialed by the peer managers; give those dials a
		// bounded time before the next round.
		pollFor(5*time.Second, allConnected)
	}
	var found uint64
	for _, d := range dhts {
		found += d.Found()
	}
	t.Logf("%d nodes knowing only the bootstrap node found each other through the DHT (%d peers announced)", n, found)
}

// TestMDNSFindsPeer: two nodes on loopback find each other by mDNS. mDNS
// sends multicast on every multicast interface, so to keep traffic off the
// machine's network the test runs itself again inside a network namespace
// it creates (unshare -rn), where only loopback exists, with multicast
// enabled on it.
func TestMDNSFindsPeer(t *testing.T) {
	if os.Getenv("MESHBUS_IN_NETNS") == "" {
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("skipped: mDNS needs a network namespace to keep multicast off the machine's network, and unshare is not installed")
		}
		if _, err := exec.LookPath("ip"); err != nil {
			t.Skip("skipped: the ip command (iproute2) is needed to enable multicast on loopback in the namespace")
		}
		script := `ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && exec "$0" -test.run '^TestMDNSFindsPeer$' -test.v`
		cmd := exec.Command(unshare, "-rn", "sh", "-c", script, os.Args[0])
		cmd.Env = append(os.Environ(), "MESHBUS_IN_NETNS=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			if probe := exec.Command(unshare, "-rn", "true").Run(); probe != nil {
				t.Skipf("skipped: cannot create a network namespace (unshare -rn: %v); mDNS would otherwise multicast off loopback", probe)
			}
			t.Fatalf("mDNS test in a network namespace failed: %v\n%s", err, out)
		}
		t.Logf("ran in a network namespace:\n%s", lastLines(string(out), 4))
		return
	}
	if !loopbackMulticast() {
		t.Skip("skipped: loopback has no multicast flag in this namespace")
	}
	// Real time: nothing here steps a mock clock, and on a frozen mock
	// clock the router's stream-open retries never fire. (A mock clock
	// also exposed a data race, see the router's stream-open timeout.)
	a := newNode(t, WithMDNS())
	// Subscribe before b exists: b announces itself as it starts, and a
	// emits EvtPeerFound for that announcement at once; a recorder
	// subscribed after b started could miss it.
	rec := record(t, a.Bus(), new(events.EvtPeerFound), new(events.EvtPeerConnectednessChanged))
	b := newNode(t, WithMDNS())
	rec.until(func(e any) bool {
		f, ok := e.(events.EvtPeerFound)
		return ok && f.Info.ID == b.ID() && f.Via == "mdns"
	})
	bustest.Eventually(t, waitFor, "a, having found b by mDNS, connected to it", func() bool {
		return a.Host().Network().Connectedness(b.ID()) == network.Connected
	}, nil)
	fmt.Println("mDNS: a found and connected to b")
}

func loopbackMulticast() bool {
	ifs, err := net.Interfaces()
	if err != nil {
		return false
	}
	for _, i := range ifs {
		if i.Flags&net.FlagLoopback != 0 && i.Flags&net.FlagMulticast != 0 && i.Flags&net.FlagUp != 0 {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	lines := []string{}
	start := len(s)
	for i := len(s) - 1; i >= 0 && len(lines) < n; i-- {
		if s[i] == '\n' || i == 0 {
			lines = append(lines, s[i:start])
			start = i
		}
	}
	out := ""
	for i := len(lines) - 1; i >= 0; i-- {
		out += lines[i]
	}
	return out
}
