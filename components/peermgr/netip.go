package peermgr

import (
	"net"
	"net/netip"
)

// netipFrom converts a net.IP, unmapping IPv4-in-IPv6.
func netipFrom(ip net.IP) (netip.Addr, bool) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}
