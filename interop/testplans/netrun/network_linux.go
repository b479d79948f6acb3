package netrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Subnet is the private IPv4 network every run uses inside the namespaces it
// creates (node i has 10.213.(i/250).(i%250+1)); no address outside it is
// ever configured or contacted.
const Subnet = "10.213.0.0/16"

// NodeIP returns node i's address.
func NodeIP(i int) string { return fmt.Sprintf("10.213.%d.%d", i/250, i%250+1) }

// NodeMAC returns the Ethernet address of node i's eth0: locally
// administered, fixed, so that every namespace gets the others as permanent
// neighbours (no ARP) and the relay knows every port's address from the
// start (no unicast frame is flooded to every port).
func NodeMAC(i int) string { return fmt.Sprintf("02:6d:62:00:%02x:%02x", i>>8&0xff, i&0xff) }

// Network is a set of node namespaces linked through a hub namespace.
type Network struct {
	prefix string
	hub    string
	nodes  []string // namespace names, index = node id
	links  []LinkSpec
	netem  bool
	relay  *Relay
	made   []string // namespaces created, for teardown
	dirs   []string // /etc/netns dirs created
}

// HasNetem reports whether the kernel has the netem qdisc (probed in a
// throw-away namespace).
func HasNetem(prefix string) bool {
	ns := prefix + "probe"
	if ip("netns", "add", ns) != nil {
		return false
	}
	defer ip("netns", "del", ns)
	return run("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms") == nil
}

// Check returns an error wrapping ErrNotPermitted, saying what is missing,
// unless this process can create network namespaces with iproute2.
func Check() error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("%w: the runner must run as root (it creates network namespaces, veth pairs and qdiscs)", ErrNotPermitted)
	}
	for _, bin := range []string{"ip", "tc"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%w: %s not found (install iproute2)", ErrNotPermitted, bin)
		}
	}
	ns := fmt.Sprintf("mbtpchk%d", os.Getpid())
	if err := ip("netns", "add", ns); err != nil {
		return fmt.Errorf("%w: cannot create a network namespace: %v", ErrNotPermitted, err)
	}
	defer ip("netns", "del", ns)
	if err := run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"); err != nil {
		return fmt.Errorf("%w: cannot enter a network namespace: %v", ErrNotPermitted, err)
	}
	return nil
}

func run(name string, args ...string) error {
	var out bytes.Buffer
	c := exec.Command(name, args...)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func ip(args ...string) error { return run("ip", args...) }

// Prefix returns the namespace-name prefix of runs of this process.
func Prefix() string { return fmt.Sprintf("mbtp%d", os.Getpid()) }

// NetOptions are Setup's choices.
type NetOptions struct {
	// ForceRelay uses the userspace relay even where netem exists.
	ForceRelay bool
	// ARP leaves neighbour resolution to ARP (broadcasts) instead of
	// permanent neighbour entries; only to reproduce the old behaviour.
	ARP bool
}

// Setup creates one namespace per link (node i's host name is nodei), a hub
// namespace, a veth pair per node, the addresses, the shaping, the delay
// (netem where the kernel has it, the userspace Relay otherwise) and an
// /etc/netns/<ns>/hosts naming every node. The commands it runs are those
// of hubCommands and nodeCommands. On error everything created is removed.
func Setup(ctx context.Context, prefix string, links []LinkSpec, opts NetOptions) (n *Network, err error) {
	if len(links) < 1 || len(links) > 1000 {
		return nil, fmt.Errorf("%w: %d nodes (1..1000)", ErrBadConfig, len(links))
	}
	n = &Network{prefix: prefix, hub: prefix + "hub", links: links}
	n.netem = !opts.ForceRelay && HasNetem(prefix)
	// The error returns below set n to nil before this runs: tear down
	// through a copy (only what this Setup created: a second runner that
	// finds the namespaces taken fails without touching the first's).
	created := n
	defer func() {
		if err != nil {
			_ = created.Teardown()
			n = nil
		}
	}()
	if err := n.exec(hubCommands(n.hub, n.netem)); err != nil {
		return nil, err
	}
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n")
	for i := range links {
		fmt.Fprintf(&hosts, "%s node%d\n", NodeIP(i), i)
	}
	hubIfs := make([]string, len(links))
	lats := make([]time.Duration, len(links))
	for i, l := range links {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ns := nodeNamespace(prefix, i)
		dir := filepath.Join("/etc/netns", ns)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		n.dirs = append(n.dirs, dir)
		if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts.String()), 0o644); err != nil {
			return nil, err
		}
		n.nodes = append(n.nodes, ns)
		hubIfs[i], lats[i] = hubIface(i), l.Latency
		if err := n.exec(nodeCommands(n.hub, ns, i, l, n.netem)); err != nil {
			return nil, err
		}
	}
	if !opts.ARP {
		neigh := neighBatch(len(links))
		for _, ns := range n.nodes {
			if err := runInput(neigh, "ip", "-n", ns, "-batch", "-"); err != nil {
				return nil, err
			}
		}
	}
	if !n.netem {
		macs := make([]string, len(links))
		for i := range links {
			macs[i] = NodeMAC(i)
		}
		r, err := StartRelay(n.hub, hubIfs, lats, macs)
		if err != nil {
			return nil, err
		}
		n.relay = r
	}
	return n, nil
}

// exec runs cmds in order, recording every namespace an "ip netns add"
// created for Teardown; it stops at the first error.
func (n *Network) exec(cmds [][]string) error {
	for _, c := range cmds {
		if err := run(c[0], c[1:]...); err != nil {
			return err
		}
		if len(c) == 4 && c[0] == "ip" && c[1] == "netns" && c[2] == "add" {
			n.made = append(n.made, c[3])
		}
	}
	return nil
}

// neighBatch is the "ip -batch" input that makes every node of n a
// permanent neighbour on eth0. Without it each namespace resolves its peers
// with ARP: broadcasts the relay floods to every port, N-1 copies each,
// which at 64 nodes starting at once is tens of thousands of frames, enough
// to delay the relay past ARP's retries ("no route to host") and dials
// past their timeouts.
func neighBatch(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "neigh replace %s lladdr %s dev eth0 nud permanent\n", NodeIP(i), NodeMAC(i))
	}
	return b.String()
}

// noIPv6 is the command that turns IPv6 off in namespace ns (before its
// interfaces come up): the nodes use IPv4 only, and an interface's IPv6
// start-up traffic (duplicate address detection, router and multicast
// listener messages) is multicast the relay would flood to every port.
func noIPv6(ns string) []string {
	return []string{"ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"}
}

func runInput(input, name string, args ...string) error {
	var out bytes.Buffer
	c := exec.Command(name, args...)
	c.Stdin = strings.NewReader(input)
	c.Stdout, c.Stderr = &out, &out
	if err := c.Run(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}

func nodeNamespace(prefix string, i int) string { return fmt.Sprintf("%sn%d", prefix, i) }

func hubIface(i int) string { return fmt.Sprintf("h%d", i) }

// hubCommands creates the hub namespace; in netem mode it holds a bridge
// that every hub-side veth joins (the relay replaces it otherwise).
func hubCommands(hub string, netem bool) [][]string {
	cmds := [][]string{
		{"ip", "netns", "add", hub},
		noIPv6(hub),
		{"ip", "-n", hub, "link", "set", "lo", "up"},
	}
	if netem {
		cmds = append(cmds,
			[]string{"ip", "-n", hub, "link", "add", "br0", "type", "bridge"},
			[]string{"ip", "-n", hub, "link", "set", "br0", "up"})
	}
	return cmds
}

// nodeCommands creates node i's namespace ns (IPv6 off), its veth pair
// (eth0 in ns with address NodeMAC(i), h<i> in the hub), its address, and the shaping of both ends: the link's
// rate on each end's egress and, in netem mode, the link's latency on each
// end's egress too, so that a packet from a to b is delayed latency(a) +
// latency(b), as with the relay.
func nodeCommands(hub, ns string, i int, l LinkSpec, netem bool) [][]string {
	hubIf := hubIface(i)
	cmds := [][]string{
		{"ip", "netns", "add", ns},
		noIPv6(ns),
		{"ip", "link", "add", "name", "eth0", "address", NodeMAC(i), "netns", ns, "type", "veth", "peer", "name", hubIf, "netns", hub},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "addr", "add", NodeIP(i) + "/16", "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", hub, "link", "set", hubIf, "up"},
	}
	if netem {
		cmds = append(cmds, []string{"ip", "-n", hub, "link", "set", hubIf, "master", "br0"})
	}
	cmds = append(cmds, shapeCommands(ns, "eth0", l, netem)...)
	return append(cmds, shapeCommands(hub, hubIf, l, netem)...)
}

// shapeCommands puts the link's delay (netem mode: netem at the root, the
// tbf as its child) and rate (tbf) on dev's egress in namespace ns.
func shapeCommands(ns, dev string, l LinkSpec, netem bool) [][]string {
	tc := func(args ...string) []string {
		return append([]string{"ip", "netns", "exec", ns, "tc"}, args...)
	}
	tbf := func(parent ...string) []string {
		// burst: at least one 64 KiB GSO frame; queue up to 50 ms of data.
		burst := max(l.RateMbit*1000*1000/8/250, 64<<10)
		a := append([]string{"qdisc", "add", "dev", dev}, parent...)
		return tc(append(a, "tbf", "rate", fmt.Sprintf("%dmbit", l.RateMbit), "burst", fmt.Sprint(burst), "latency", "50ms")...)
	}
	switch {
	case netem && l.Latency > 0:
		cmds := [][]string{tc("qdisc", "add", "dev", dev, "root", "handle", "1:", "netem", "delay", fmt.Sprintf("%dus", l.Latency.Microseconds()), "limit", "100000")}
		if l.RateMbit > 0 {
			cmds = append(cmds, tbf("parent", "1:1", "handle", "2:"))
		}
		return cmds
	case l.RateMbit > 0:
		return [][]string{tbf("root", "handle", "1:")}
	}
	return nil
}

// Netem reports whether the delay is netem's (else the userspace relay's).
func (n *Network) Netem() bool { return n.netem }

// Namespace returns node i's namespace name.
func (n *Network) Namespace(i int) string { return n.nodes[i] }

// Relay returns the userspace relay, nil in netem mode.
func (n *Network) Relay() *Relay { return n.relay }

// Teardown stops the relay and deletes every namespace and hosts file the
// network created. It is idempotent and tries everything even when a step
// fails.
func (n *Network) Teardown() error {
	var errs []error
	if n.relay != nil {
		errs = append(errs, n.relay.Close())
		n.relay = nil
	}
	for i := len(n.made) - 1; i >= 0; i-- {
		if err := ip("netns", "del", n.made[i]); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	n.made = nil
	for _, d := range n.dirs {
		errs = append(errs, os.RemoveAll(d))
	}
	n.dirs = nil
	return errors.Join(errs...)
}

// CleanupStale deletes namespaces and /etc/netns dirs left by runs whose
// process is gone (killed with SIGKILL), recognised by the "mbtp<pid>"
// prefix of a pid that no longer exists. It returns what it removed.
func CleanupStale() ([]string, error) {
	ents, err := os.ReadDir("/run/netns")
	if err != nil && !os.IsNotExist(err) {
		return nil, err
	}
	var removed []string
	var errs []error
	alive := func(name string) bool {
		var pid int
		rest := strings.TrimPrefix(name, "mbtp")
		rest = strings.TrimPrefix(rest, "chk")
		if _, err := fmt.Sscanf(rest, "%d", &pid); err != nil || pid <= 0 {
			return true // not ours
		}
		_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
		return err == nil
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "mbtp") || alive(e.Name()) {
			continue
		}
		if err := ip("netns", "del", e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, e.Name())
	}
	dirs, _ := os.ReadDir("/etc/netns")
	for _, e := range dirs {
		if strings.HasPrefix(e.Name(), "mbtp") && !alive(e.Name()) {
			errs = append(errs, os.RemoveAll(filepath.Join("/etc/netns", e.Name())))
		}
	}
	return removed, errors.Join(errs...)
}
