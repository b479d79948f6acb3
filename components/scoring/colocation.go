package scoring

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
func (s *Scorer) colocation(ps *peerState) float64 {
	var p6 float64
	for _, r := range ps.ips {
		g := s.ips[r.addr]
		if g == nil {
			continue
		}
		if surplus := float64(len(g.peers)) - s.params.IPColocationFactorThreshold; surplus > 0 {
			p6 += surplus * surplus
		}
	}
	return p6
}

// trackedIP returns the form of ip that P₆ counts, and false for IPs it
// ignores: the zero Addr (relayed or non-IP connections) and whitelisted
// networks. IPv4-mapped IPv6 addresses count as their IPv4 address.
func (s *Scorer) trackedIP(ip netip.Addr) (netip.Addr, bool) {
	if !ip.IsValid() {
		return ip, false
	}
	ip = ip.Unmap()
	for _, pfx := range s.params.IPColocationFactorWhitelist {
		if pfx.Contains(ip) {
			return ip, false
		}
	}
	return ip, true
}

// addIP records one more connection of ps from ip; when ps is new on that
// IP, every peer sharing it is rescored.
func (s *Scorer) addIP(ps *peerState, ip netip.Addr, t time.Time) {
	for i := range ps.ips {
		if ps.ips[i].addr == ip {
			ps.ips[i].conns++
			return
		}
	}
	ps.ips = append(ps.ips, ipRef{addr: ip, conns: 1})
	g := s.ips[ip]
	if g == nil {
		g = &ipGroup{}
		s.ips[ip] = g
	}
	g.peers = append(g.peers, ps)
	s.rescoreGroup(g, t)
}

// removeIP records one fewer connection of ps from ip; when it was the last,
// ps leaves the IP and the peers still on it (and ps) are rescored.
func (s *Scorer) removeIP(ps *peerState, ip netip.Addr, t time.Time) {
	for i := range ps.ips {
		if ps.ips[i].addr != ip {
			continue
		}
		if ps.ips[i].conns--; ps.ips[i].conns > 0 {
			return
		}
		g := s.dropIP(ps, ip)
		if g != nil {
			s.rescoreGroup(g, t)
		}
		s.rescore(ps, t)
		return
	}
}

// dropIP removes ip from ps and ps from ip's group regardless of the
// connection count, and returns the group if it still has peers.
func (s *Scorer) dropIP(ps *peerState, ip netip.Addr) *ipGroup {
	ps.ips = slices.DeleteFunc(ps.ips, func(r ipRef) bool { return r.addr == ip })
	g := s.ips[ip]
	if g == nil {
		return nil
	}
	g.peers = slices.DeleteFunc(g.peers, func(q *peerState) bool { return q == ps })
	if len(g.peers) == 0 {
		delete(s.ips, ip)
		return nil
	}
	return g
}

// clearIPs drops every IP of ps (its last connection closed) and rescores
// the peers that shared them.
func (s *Scorer) clearIPs(ps *peerState, t time.Time) {
	for len(ps.ips) > 0 {
		if g := s.dropIP(ps, ps.ips[0].addr); g != nil {
			s.rescoreGroup(g, t)
		}
	}
}

// rescoreGroup rescores every peer on one IP. Only the count above the
// threshold matters, so below it nothing changes and nothing is done.
func (s *Scorer) rescoreGroup(g *ipGroup, t time.Time) {
	if s.params.IPColocationFactorWeight == 0 {
		return
	}
	// With n peers now, the count was n-1 or n+1 before: scores moved only
	// if either side of the change is above the threshold.
	if float64(len(g.peers)+1) <= s.params.IPColocationFactorThreshold {
		return
	}
	for _, q := range g.peers {
		s.rescore(q, t)
	}
}
