package main

import (
	"context"
	"fmt"

	"github.com/libp2p/go-libp2p/core/peer"
)

// Implementation names accepted by -impl.
const (
	implMeshbus   = "meshbus"
	implGossipSub = "gossipsub" // go-libp2p-pubsub, the reference
)

// Transports accepted by -transport.
const (
	transportQUIC = "quic"
	transportTCP  = "tcp"
)

// listenAddr is the loopback address a node listens on for cfg.Transport.
func listenAddr(cfg Config) (string, error) {
	switch cfg.Transport {
	case transportQUIC, "":
		return "/ip4/127.0.0.1/udp/0/quic-v1", nil
	case transportTCP:
		return "/ip4/127.0.0.1/tcp/0", nil
	}
	return "", fmt.Errorf("unknown transport %q (want %s or %s)", cfg.Transport, transportQUIC, transportTCP)
}

// benchNode is what the harness needs of one node of either implementation,
// so that both run the same topology, publish schedule and measurement.
type benchNode interface {
	// ID is the node's peer id.
	ID() peer.ID
	// AddrInfo is how other nodes dial it.
	AddrInfo() peer.AddrInfo
	// Connect dials another node.
	Connect(ctx context.Context, ai peer.AddrInfo) error
	// Join joins a topic and subscribes to it; it must be called once per
	// topic before Publish, MeshSize or Next for that topic.
	Join(topic string, buffer int) error
	// MeshSize is the number of mesh peers the node has in topic.
	MeshSize(topic string) int
	// Publish publishes data to topic.
	Publish(ctx context.Context, topic string, data []byte) error
	// Next blocks for the next message delivered on topic; it returns the
	// author, the message id and the data, or the context's error.
	Next(ctx context.Context, topic string) (from peer.ID, id string, data []byte, err error)
	// Counters returns duplicates received and RPCs sent so far.
	Counters() (duplicates, rpcsOut float64)
	// Close stops the node.
	Close() error
}

// nodeFactory builds the i-th node of a run.
type nodeFactory func(ctx context.Context, cfg Config) (benchNode, error)

// factories maps -impl names to their constructors.
var factories = map[string]nodeFactory{
	implMeshbus:   newMeshbusNode,
	implGossipSub: newGossipSubNode,
}

// cancelCounter is implemented by nodes that count the queued copies they
// dropped unsent (the peer sent IDONTWANT or the message meanwhile).
type cancelCounter interface {
	Cancelled() float64
}
