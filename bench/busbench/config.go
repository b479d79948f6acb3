package busbench

import (
	"fmt"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/events"
)

// Event is the event every contender carries: a catalog event of realistic
// size (two strings, a bool and a time.Time: 64 bytes), passed by value.
type Event = events.EvtPeerGrafted

// sampleEvent returns the event emitted in every run.
func sampleEvent() Event {
	return Event{
		Peer:     peer.ID("12D3KooWbenchbenchbenchbenchbenchbenchbenchbench"),
		Topic:    "/meshbus/bench/1",
		Outbound: true,
		At:       time.Unix(1_700_000_000, 0),
	}
}

// Impl names a contender.
type Impl string

// The contenders.
const (
	// ImplChan is one plain buffered chan Event per subscriber; the emitter
	// sends on each in turn. It is the typed API's floor.
	ImplChan Impl = "chan"
	// ImplChanAny is one plain buffered chan any per subscriber; the
	// emitter boxes each event once, as a caller of event.Emitter.Emit does,
	// and sends the box on each channel in turn. It is the floor of anything
	// behind go-libp2p's event.Bus interface, whose Emit takes and whose
	// subscriptions deliver an interface value.
	ImplChanAny Impl = "chan-any"
	// ImplLibp2p is go-libp2p's basic bus (p2p/host/eventbus.NewBus).
	ImplLibp2p Impl = "libp2p"
	// ImplTyped is meshbus's typed API: eventbus.Subscribe[T] and
	// eventbus.NewEmitter[T].
	ImplTyped Impl = "meshbus-typed"
	// ImplEventBus is meshbus's bus used through go-libp2p's event.Bus
	// interface (Bus.Subscribe and Bus.Emitter, events boxed in any).
	ImplEventBus Impl = "meshbus-event.Bus"
	// ImplBatch is meshbus's batch mode: eventbus.SubscribeBatch[T], each
	// subscriber reading with Next into a buffer as large as its queue, and
	// eventbus.NewEmitter[T].
	ImplBatch Impl = "meshbus-batch"
	// ImplBatchMany is ImplBatch with the emitter calling
	// Emitter.EmitMany with 64 events at a time: its ns/event is the cost
	// per event of a 64-event call, not of one Emit (ImplBatch's row).
	ImplBatchMany Impl = "meshbus-batch-emitmany64"
	// ImplBatchSingle is ImplBatch with a single-producer emitter
	// (eventbus.NewEmitter with eventbus.SingleProducer: the type's only
	// emitter, never called concurrently), whose Emit publishes with one
	// compare-and-swap where ImplBatch's, safe for concurrent use, needs
	// two locked instructions.
	ImplBatchSingle Impl = "meshbus-batch-single"
)

// emitManyChunk is how many events an ImplBatchMany emitter passes to one
// EmitMany call.
const emitManyChunk = 64

// Impls lists the throughput contenders in table order.
var Impls = []Impl{ImplChan, ImplChanAny, ImplLibp2p, ImplTyped, ImplEventBus, ImplBatch, ImplBatchSingle, ImplBatchMany}

// isChan reports whether the contender is plain channels, not a bus.
func (i Impl) isChan() bool { return i == ImplChan || i == ImplChanAny }

// isMeshbus reports whether the contender is meshbus's bus.
func (i Impl) isMeshbus() bool { return i == ImplTyped || i == ImplEventBus || i.isBatch() }

// isBatch reports whether the contender is meshbus's batch mode.
func (i Impl) isBatch() bool { return i == ImplBatch || i == ImplBatchMany || i == ImplBatchSingle }

// valid reports whether i is a known contender.
func (i Impl) valid() bool {
	for _, x := range Impls {
		if i == x {
			return true
		}
	}
	return false
}

// Config is one throughput row: a contender, a subscriber count, each
// subscription's buffer, and whether the bus keeps Prometheus metrics
// (go-libp2p: its metrics tracer, as libp2p.New installs it; meshbus:
// busmetrics.Register). Plain channels have no metrics.
type Config struct {
	// Impl is the contender.
	Impl Impl
	// Subs is the number of subscribers, each drained by a goroutine.
	Subs int
	// Buf is every subscription's channel buffer.
	Buf int
	// Metrics turns the bus's Prometheus metrics on.
	Metrics bool
}

// Name is the row's benchmark name, in the key=value form benchstat groups
// on, e.g. "impl=meshbus-typed/subs=1/buf=16/metrics=off".
func (c Config) Name() string {
	return fmt.Sprintf("impl=%s/subs=%d/buf=%d/metrics=%s", c.Impl, c.Subs, c.Buf, onOff(c.Metrics))
}

// Validate reports the first bad field.
func (c Config) Validate() error {
	switch {
	case !c.Impl.valid():
		return fmt.Errorf("%w: Impl %q is unknown", ErrConfig, c.Impl)
	case c.Subs < 1:
		return fmt.Errorf("%w: Subs %d is below 1", ErrConfig, c.Subs)
	case c.Buf < 0:
		return fmt.Errorf("%w: Buf %d is negative", ErrConfig, c.Buf)
	case c.Metrics && c.Impl.isChan():
		return fmt.Errorf("%w: Metrics on plain channels", ErrConfig)
	}
	return nil
}

// Baseline is the go-libp2p row this row is compared with: same
// subscribers, buffer and metrics setting (plain channels compare with
// go-libp2p without metrics).
func (c Config) Baseline() Config {
	return Config{Impl: ImplLibp2p, Subs: c.Subs, Buf: c.Buf, Metrics: c.Metrics && !c.Impl.isChan()}
}

// Floor is the plain-channel row with the same subscribers and buffer that
// carries what the row's API carries: chan Event for the typed API, chan any
// for the event.Bus API (meshbus's and go-libp2p's). No bus with that API
// can deliver for less than its floor.
func (c Config) Floor() Config {
	impl := ImplChanAny
	if c.Impl == ImplChan || c.Impl == ImplTyped || c.Impl.isBatch() {
		impl = ImplChan
	}
	return Config{Impl: impl, Subs: c.Subs, Buf: c.Buf}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// Grid returns every throughput row for the given subscriber counts and
// buffers, grouped by cell (subscribers, buffer) in table order: chan,
// chan-any, libp2p, libp2p+metrics, typed, typed+metrics, event.Bus,
// event.Bus+metrics, batch, batch+metrics, batch-single (no metrics row:
// the bus is the batch row's, only the emitter differs), batch-emitmany64,
// batch-emitmany64+metrics.
func Grid(subs, bufs []int) []Config {
	var out []Config
	for _, s := range subs {
		for _, b := range bufs {
			for _, impl := range Impls {
				out = append(out, Config{Impl: impl, Subs: s, Buf: b})
				if !impl.isChan() && impl != ImplBatchSingle {
					out = append(out, Config{Impl: impl, Subs: s, Buf: b, Metrics: true})
				}
			}
		}
	}
	return out
}
