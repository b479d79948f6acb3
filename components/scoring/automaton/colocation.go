package automaton

import (
	"net/netip"
	"slices"
	"time"
)

// ipRef counts one peer's open connections from one IP.
type ipRef struct {
	addr  netip.Addr
	conns int
}

// ipGroup is the set of peers with an open connection from one IP.
type ipGroup struct {
	peers []*peerState
}

// colocation returns P₆ for ps: for each of its IPs shared by more peers
// than IPColocationFactorThreshold, the surplus squared.
func (a *Automaton) colocation(ps *peerState) float64 {
	var p6 float64
	for _, r := range ps.ips {
		g := a.ips[r.addr]
		if g == nil {
			continue
		}
		if surplus := float64(len(g.peers)) - a.params.IPColocationFactorThreshold; surplus > 0 {
			p6 += surplus * surplus
		}
	}
	return p6
}

// trackedIP returns the form of ip that P₆ counts, and false for IPs it
// ignores: the zero Addr (relayed or non-IP connections) and whitelisted
// networks. IPv4-mapped IPv6 addresses count as their IPv4 address.
func (a *Automaton) trackedIP(ip netip.Addr) (netip.Addr, bool) {
	if !ip.IsValid() {
		return ip, false
	}
	ip = ip.Unmap()
	for _, pfx := range a.params.IPColocationFactorWhitelist {
		if pfx.Contains(ip) {
			return ip, false
		}
	}
	return ip, true
}

// addIP records one more connection of ps from ip; when ps is new on that
// IP, every peer sharing it is rescored.
func (a *Automaton) addIP(ps *peerState, ip netip.Addr, t time.Time) {
	for i := range ps.ips {
		if ps.ips[i].addr == ip {
			ps.ips[i].conns++
			return
		}
	}
	ps.ips = append(ps.ips, ipRef{addr: ip, conns: 1})
	g := a.ips[ip]
	if g == nil {
		g = &ipGroup{}
		a.ips[ip] = g
	}
	g.peers = append(g.peers, ps)
	a.rescoreGroup(g, t)
}

// removeIP records one fewer connection of ps from ip; when it was the last,
// ps leaves the IP and the peers still on it (and ps) are rescored.
func (a *Automaton) removeIP(ps *peerState, ip netip.Addr, t time.Time) {
	for i := range ps.ips {
		if ps.ips[i].addr != ip {
			continue
		}
		if ps.ips[i].conns--; ps.ips[i].conns > 0 {
			return
		}
		g := a.dropIP(ps, ip)
		if g != nil {
			a.rescoreGroup(g, t)
		}
		a.rescore(ps, t)
		return
	}
}

// dropIP removes ip from ps and ps from ip's group regardless of the
// connection count, and returns the group if it still has peers.
func (a *Automaton) dropIP(ps *peerState, ip netip.Addr) *ipGroup {
	ps.ips = slices.DeleteFunc(ps.ips, func(r ipRef) bool { return r.addr == ip })
	g := a.ips[ip]
	if g == nil {
		return nil
	}
	g.peers = slices.DeleteFunc(g.peers, func(q *peerState) bool { return q == ps })
	if len(g.peers) == 0 {
		delete(a.ips, ip)
		return nil
	}
	return g
}

// clearIPs drops every IP of ps (its last connection closed) and rescores
// the peers that shared them.
func (a *Automaton) clearIPs(ps *peerState, t time.Time) {
	for len(ps.ips) > 0 {
		if g := a.dropIP(ps, ps.ips[0].addr); g != nil {
			a.rescoreGroup(g, t)
		}
	}
}

// rescoreGroup rescores every peer on one IP. Only the count above the
// threshold matters, so below it nothing changes and nothing is done.
func (a *Automaton) rescoreGroup(g *ipGroup, t time.Time) {
	if a.params.IPColocationFactorWeight == 0 {
		return
	}
	// With n peers now, the count was n-1 or n+1 before: scores moved only
	// if either side of the change is above the threshold.
	if float64(len(g.peers)+1) <= a.params.IPColocationFactorThreshold {
		return
	}
	for _, q := range g.peers {
		a.rescore(q, t)
	}
}
