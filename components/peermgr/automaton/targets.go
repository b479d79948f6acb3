package automaton

// Targets are the connection counts the connectivity loop aims for.
type Targets struct {
	// Mesh is the budget for mesh (pubsub) peers: MaxConnections * MeshRatio.
	Mesh int
	// Outbound is the share of Mesh the node dials itself: one third.
	Outbound int
	// Inbound is the rest of Mesh; inbound mesh peers above it are trimmed.
	Inbound int
	// Service is the budget left for service peers.
	Service int
}

// Targets derives the connection targets from MaxConnections and MeshRatio:
// with the defaults 30 mesh peers (10 outbound, 20 inbound) and 20 service
// peers. A non-empty mesh budget always allows at least one outbound peer.
func (c *Config) Targets() Targets {
	// The epsilon keeps 100 x 0.29 (28.999999999999996 in floating point) at 29.
	mesh := int(float64(c.MaxConnections)*c.MeshRatio + 1e-9)
	out := mesh / 3
	if mesh > 0 && out == 0 {
		out = 1
	}
	return Targets{Mesh: mesh, Outbound: out, Inbound: mesh - out, Service: c.MaxConnections - mesh}
}
