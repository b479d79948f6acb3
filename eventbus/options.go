package eventbus

import (
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
)

// DefaultBufSize is a subscription's buffer size unless BufSize says otherwise.
const DefaultBufSize = 16

// MaxBufSize is the largest buffer a subscription may ask for (BufSize); a
// larger one is ErrBadOption. A buffer is allocated whole when the
// subscription is made, so this bounds what one Subscribe call can allocate
// (1 Mi slots: 64 MiB for a 64-byte event).
const MaxBufSize = 1 << 20

// SubscriptionOpt configures a subscription. It is the same type as
// go-libp2p's event.SubscriptionOpt, so options of either package can be
// passed to either API (a foreign bus's option is ErrBadOption here).
type SubscriptionOpt = func(any) error

// EmitterOpt configures an emitter; the same type as go-libp2p's
// event.EmitterOpt.
type EmitterOpt = func(any) error

// Option configures a Bus.
type Option func(*Bus)

// WithDefaultPolicy sets the policy of subscriptions that do not choose one.
// The package default is Notify with LogNotifier. WithDefaultPolicy(Block)
// makes the bus behave as go-libp2p's does.
func WithDefaultPolicy(p Policy) Option {
	return func(b *Bus) {
		if p.valid() {
			b.defaultPolicy = p
		}
	}
}

// WithNotifier sets the Notifier of Notify subscriptions that do not set
// their own (default: LogNotifier on the bus's logger).
func WithNotifier(n Notifier) Option {
	return func(b *Bus) { b.defaultNotifier = n }
}

// WithLogger sets the bus's logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(b *Bus) {
		if l != nil {
			b.log = l
		}
	}
}

// subSettings is what subscription options configure.
type subSettings struct {
	name           string
	bufSize        int
	policy         Policy
	notifier       Notifier
	requireEmitter bool
	sequenced      bool
	quiet          []reflect.Type // Quiet's types
	quietLimit     int            // QuietLimit's n; 0: half the buffer
}

func (b *Bus) newSubSettings(callerSkip int, opts []SubscriptionOpt) (subSettings, error) {
	s := subSettings{bufSize: DefaultBufSize, policy: b.defaultPolicy}
	for _, o := range opts {
		if err := applyOpt(o, &s); err != nil {
			return s, err
		}
	}
	if s.name == "" {
		s.name = callerName(callerSkip + 1)
	}
	if s.notifier == nil {
		s.notifier = b.defaultNotifier
	}
	return s, nil
}

// applyOpt runs an option; options written for another bus implementation
// (go-libp2p's eventbus.BufSize, say) type-assert their own settings type and
// panic on ours, which is turned into ErrBadOption.
func applyOpt(o func(any) error, s any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: option from another bus implementation: %v", ErrBadOption, r)
		}
	}()
	return o(s)
}

// subOpt adapts a settings mutation into an SubscriptionOpt that
// rejects foreign settings types instead of panicking.
func subOpt(f func(*subSettings) error) SubscriptionOpt {
	return func(x any) error {
		s, ok := x.(*subSettings)
		if !ok {
			return fmt.Errorf("%w: meshbus subscription option given to %T", ErrBadOption, x)
		}
		return f(s)
	}
}

// BufSize sets the subscription's buffer (default DefaultBufSize). 0 is an
// unbuffered channel (a batch subscription gets one slot). Negative values
// and values above MaxBufSize are ErrBadOption.
func BufSize(n int) SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		if n < 0 {
			return fmt.Errorf("%w: BufSize(%d) is negative", ErrBadOption, n)
		}
		if n > MaxBufSize {
			return fmt.Errorf("%w: BufSize(%d) is above MaxBufSize (%d)", ErrBadOption, n, MaxBufSize)
		}
		s.bufSize = n
		return nil
	})
}

// Name names the subscription in logs, metrics and introspection (default:
// the caller's file and line).
func Name(name string) SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		s.name = name
		return nil
	})
}

// WithPolicy sets the subscription's backpressure policy (default: the bus's).
func WithPolicy(p Policy) SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		if !p.valid() {
			return fmt.Errorf("%w: unknown policy %d", ErrBadOption, p)
		}
		s.policy = p
		return nil
	})
}

// OnDrop sets the Notify policy with n as the subscription's Notifier.
func OnDrop(n Notifier) SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		if n == nil {
			return fmt.Errorf("%w: OnDrop(nil)", ErrBadOption)
		}
		s.policy, s.notifier = Notify, n
		return nil
	})
}

// Quiet makes events of the given types (new(EvtX) each, types the batch
// subscription receives) wait in its queue without waking its parked
// reader: the reader wakes at the next event of another type, when the
// queue holds half its buffer (or QuietLimit events), or when the
// subscription ends, and then
// takes every queued event in order, quiet ones included. It is for a
// reader that takes high-rate, unhurried facts on its own schedule too
// (TryNext on a ticker) and wants one wake-up per many of them. Only
// batch subscriptions take it (Subscribe returns ErrBadOption); a type
// that is not a pointer, or that the subscription does not receive, is
// ErrBadOption. Ordering, policies and counts are unchanged.
func Quiet(eventTypes ...any) SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		for _, et := range eventTypes {
			t := reflect.TypeOf(et)
			if t == nil || t.Kind() != reflect.Pointer {
				return fmt.Errorf("%w: Quiet(%T): want new(EventType)", ErrBadOption, et)
			}
			s.quiet = append(s.quiet, t.Elem())
		}
		return nil
	})
}

// QuietLimit sets how many queued events wake a parked reader of a Quiet
// subscription that holds only quiet events (default: half its BufSize).
// A lower limit bounds how many events (and what they reference) wait
// for a reader, and how long. It must be between 1 and the BufSize, and
// comes with Quiet; otherwise it is ErrBadOption.
func QuietLimit(n int) SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		if n < 1 {
			return fmt.Errorf("%w: QuietLimit(%d), want at least 1", ErrBadOption, n)
		}
		s.quietLimit = n
		return nil
	})
}

// RequireEmitter makes the subscription fail with ErrNoEmitter when the bus is
// sealed (Bus.Seal) and one of its types still has no emitter; after the seal,
// Subscribe itself fails that way. It turns "waits forever for an event
// nobody emits" into an error at start. Wildcard subscriptions ignore it.
func RequireEmitter() SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		s.requireEmitter = true
		return nil
	})
}

// WithSequence makes an event.Bus-API subscription deliver Sequenced[any]
// values carrying the bus-wide sequence number of each event. The typed API
// uses SubscribeSequenced instead.
func WithSequence() SubscriptionOpt {
	return subOpt(func(s *subSettings) error {
		s.sequenced = true
		return nil
	})
}

// emitterSettings is what emitter options configure.
type emitterSettings struct {
	stateful bool
	single   bool
}

// Stateful is an emitter option: the bus remembers the type's last event and
// delivers it to every new subscription first. A stateful Emit allocates
// once to keep the event.
func Stateful(x any) error {
	s, ok := x.(*emitterSettings)
	if !ok {
		return fmt.Errorf("%w: meshbus emitter option given to %T", ErrBadOption, x)
	}
	s.stateful = true
	return nil
}

// SingleProducer is an option of NewEmitter: the caller promises that
// Emit, EmitMany and Close of this emitter are never called concurrently
// (one goroutine at a time, or calls ordered by some synchronisation), and
// the emitter must be its type's only live emitter (otherwise NewEmitter,
// or a later NewEmitter or Bus.Emitter of the type, fails with
// ErrSingleProducer).
//
// What it buys: while every subscriber of the type is a batch subscription
// sharing the type's ring, an Emit writes the event and publishes it with
// one atomic compare-and-swap, where an emitter safe for concurrent use
// needs two locked instructions (one to exclude other producers, one to
// publish). Every guarantee of Emit stays: order, the four policies,
// sequence numbers, counters, introspection, no allocation, Close of a
// subscription; subscribers of other kinds (channels, the event.Bus API,
// sequenced or interface-typed subscriptions) get every event through the
// ordinary path. Combined with Stateful, the emitter keeps the exclusivity
// but always takes the ordinary path.
//
// Concurrent calls are misuse: they may deliver a corrupted event or lose
// one. Each call writes a field of the emitter without synchronisation, so
// the race detector reports such misuse in tests. Bus.Emitter (the
// event.Bus API) refuses it with ErrBadOption.
func SingleProducer() EmitterOpt {
	return func(x any) error {
		s, ok := x.(*emitterSettings)
		if !ok {
			return fmt.Errorf("%w: meshbus emitter option given to %T", ErrBadOption, x)
		}
		s.single = true
		return nil
	}
}

func newEmitterSettings(opts []EmitterOpt) (emitterSettings, error) {
	var s emitterSettings
	for _, o := range opts {
		if err := applyOpt(o, &s); err != nil {
			return s, err
		}
	}
	return s, nil
}

// callerName names a subscription after the file and line that created it,
// without the module cache's version suffix.
func callerName(skip int) string {
	_, file, line, ok := runtime.Caller(skip + 1)
	if !ok {
		return "unknown"
	}
	if i := strings.Index(file, "@"); i >= 0 {
		if j := strings.Index(file[i:], "/"); j >= 0 {
			file = file[:i] + file[i+j:]
		}
	}
	if i := strings.LastIndex(file, "/"); i >= 0 {
		if j := strings.LastIndex(file[:i], "/"); j >= 0 {
			file = file[j+1:]
		}
	}
	return fmt.Sprintf("%s:%d", file, line)
}
