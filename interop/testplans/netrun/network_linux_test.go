package netrun

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// The netem path cannot run on a kernel without the netem qdisc (this
// project's CI machine has none), so its command lines are checked here:
// a bridge in the hub, every hub-side veth on it, and on both ends of each
// link netem at the root with the link's one-way latency and the tbf as its
// child; the relay mode has no bridge and only the tbf.
func TestNetemCommandLines(t *testing.T) {
	l := LinkSpec{Latency: 15 * time.Millisecond, RateMbit: 50}
	tbfArgs := []string{"tbf", "rate", "50mbit", "burst", "65536", "latency", "50ms"}
	want := [][]string{
		{"ip", "netns", "add", "pn3"},
		{"ip", "netns", "exec", "pn3", "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"},
		{"ip", "link", "add", "name", "eth0", "address", "02:6d:62:00:00:03", "netns", "pn3", "type", "veth", "peer", "name", "h3", "netns", "phub"},
		{"ip", "-n", "pn3", "link", "set", "lo", "up"},
		{"ip", "-n", "pn3", "addr", "add", "10.213.0.4/16", "dev", "eth0"},
		{"ip", "-n", "pn3", "link", "set", "eth0", "up"},
		{"ip", "-n", "phub", "link", "set", "h3", "up"},
		{"ip", "-n", "phub", "link", "set", "h3", "master", "br0"},
		{"ip", "netns", "exec", "pn3", "tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "netem", "delay", "15000us", "limit", "100000"},
		append([]string{"ip", "netns", "exec", "pn3", "tc", "qdisc", "add", "dev", "eth0", "parent", "1:1", "handle", "2:"}, tbfArgs...),
		{"ip", "netns", "exec", "phub", "tc", "qdisc", "add", "dev", "h3", "root", "handle", "1:", "netem", "delay", "15000us", "limit", "100000"},
		append([]string{"ip", "netns", "exec", "phub", "tc", "qdisc", "add", "dev", "h3", "parent", "1:1", "handle", "2:"}, tbfArgs...),
	}
	if got := nodeCommands("phub", "pn3", 3, l, true); !reflect.DeepEqual(got, want) {
		t.Errorf("netem node commands:\n%s\nwant:\n%s", lines(got), lines(want))
	}
	hub := hubCommands("phub", true)
	if !reflect.DeepEqual(hub[len(hub)-2:], [][]string{{"ip", "-n", "phub", "link", "add", "br0", "type", "bridge"}, {"ip", "-n", "phub", "link", "set", "br0", "up"}}) {
		t.Errorf("netem hub commands have no bridge:\n%s", lines(hub))
	}

	// Relay mode: no bridge, no netem, the tbf at the root.
	relay := nodeCommands("phub", "pn3", 3, l, false)
	for _, c := range append(relay, hubCommands("phub", false)...) {
		if s := strings.Join(c, " "); strings.Contains(s, "netem") || strings.Contains(s, "br0") {
			t.Errorf("relay mode runs %q", s)
		}
	}
	if got, w := relay[len(relay)-1], append([]string{"ip", "netns", "exec", "phub", "tc", "qdisc", "add", "dev", "h3", "root", "handle", "1:"}, tbfArgs...); !reflect.DeepEqual(got, w) {
		t.Errorf("relay mode shaping %q, want %q", got, w)
	}

	// netem without latency: only the tbf; a faster link gets a larger burst.
	if got := shapeCommands("x", "eth0", LinkSpec{RateMbit: 1000}, true); len(got) != 1 || !strings.Contains(strings.Join(got[0], " "), "root handle 1: tbf rate 1000mbit burst 500000 ") {
		t.Errorf("netem mode without latency: %q", got)
	}
	if got := shapeCommands("x", "eth0", LinkSpec{Latency: time.Millisecond}, true); len(got) != 1 || !strings.Contains(strings.Join(got[0], " "), "netem delay 1000us") {
		t.Errorf("netem mode without rate: %q", got)
	}
}

func lines(cmds [][]string) string {
	var b strings.Builder
	for _, c := range cmds {
		b.WriteString(strings.Join(c, " ") + "\n")
	}
	return b.String()
}

// Every node gets every node as a permanent neighbour (no ARP broadcasts for
// the relay to flood), with the addresses the veths are created with.
func TestNeighBatch(t *testing.T) {
	got := strings.Split(strings.TrimSpace(neighBatch(300)), "\n")
	if len(got) != 300 {
		t.Fatalf("%d lines", len(got))
	}
	if got[0] != "neigh replace 10.213.0.1 lladdr 02:6d:62:00:00:00 dev eth0 nud permanent" ||
		got[299] != "neigh replace 10.213.1.50 lladdr 02:6d:62:00:01:2b dev eth0 nud permanent" {
		t.Fatalf("lines %q ... %q", got[0], got[299])
	}
}
