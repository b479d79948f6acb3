// Package host assembles a meshbus node: a go-libp2p host (TCP and QUIC),
// the meshbus event bus, connection tracking (package conntrack) and the
// built-in components, wired as one go.uber.org/fx application, plus any
// add-on a user hands to New as an fx option.
//
// The graph provides, to built-ins and add-ons alike:
//
//	host.Host (go-libp2p core/host)   the libp2p host
//	*eventbus.Bus                     the meshbus bus
//	clock.Clock                       the injected clock (WithClock)
//	prometheus.Registerer             the node's metrics registry (WithRegistry),
//	prometheus.Gatherer,              also readable as a Gatherer and
//	*prometheus.Registry              as the registry itself; none of the three
//	                                  with WithoutMetrics (take them optional)
//	*slog.Logger                      the node's logger (WithLogger)
//	context.Context                   the node's context, canceled when Close begins
//
// Start is two-phase. First every component starts, in fx order, and the
// host emits events.EvtComponentStarted after each one (see Component). Then
// the bus is sealed (eventbus.Bus.Seal): a subscription made with
// eventbus.RequireEmitter whose event type no component emits fails the
// start, and New returns an error naming the type and the subscriber,
// instead of a node that waits forever.
//
// Close stops the components in reverse start order (emitting
// events.EvtComponentStopped after each), then closes the libp2p host, then
// the bus; it leaves no goroutine of its own behind.
package host
