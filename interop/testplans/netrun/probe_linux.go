package netrun

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"
)

// MeasureRTT measures the round trip from node a to node b of the network
// as the nodes see it: the time TCP takes to connect (SYN, SYN-ACK) from a
// socket in a's namespace to a listener in b's, count times. It returns
// the sorted samples.
func (n *Network) MeasureRTT(ctx context.Context, a, b, count int) ([]time.Duration, error) {
	var ln net.Listener
	if err := inNetns(n.nodes[b], func() error {
		var err error
		ln, err = net.Listen("tcp4", NodeIP(b)+":0")
		return err
	}); err != nil {
		return nil, err
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	var samples []time.Duration
	for range count {
		if err := inNetns(n.nodes[a], func() error {
			d := net.Dialer{Timeout: 5 * time.Second}
			t0 := time.Now()
			c, err := d.DialContext(ctx, "tcp4", addr)
			if err != nil {
				return err
			}
			samples = append(samples, time.Since(t0))
			return c.Close()
		}); err != nil {
			return nil, fmt.Errorf("probe node%d -> node%d: %w", a, b, err)
		}
	}
	slices.Sort(samples)
	return samples, nil
}
