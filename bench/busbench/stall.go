package busbench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/event"
	lpbus "github.com/libp2p/go-libp2p/p2p/host/eventbus"

	"github.com/meshbus/meshbus/eventbus"
)

// StallConfig is one row of the stalled-subscriber scenario: an emitter,
// Healthy subscribers that drain, and one stalled subscriber, all with
// buffer Buf and (on meshbus) policy Policy.
//
// Under Drop, Kill and Notify the stalled subscriber never reads. Under
// Block, and on go-libp2p's bus (which always blocks), a subscriber that
// never reads would stop the emitter for good, so there the stalled
// subscriber reads one event per SlowPeriod instead: the contrast rows show
// the emitter paced by its slowest subscriber.
//
// The emitter emits in bursts of Buf events and, after each burst, waits
// until the healthy subscribers have drained it. So the healthy subscribers
// never overflow on their own, every event they miss would be the bus's
// fault, and the emitter's latency is that of the bus, not of a healthy but
// descheduled consumer.
type StallConfig struct {
	// Impl is ImplTyped, ImplEventBus or ImplLibp2p.
	Impl Impl
	// Policy of every subscription (meshbus only; ignored for go-libp2p).
	Policy eventbus.Policy
	// Healthy is the number of draining subscribers (default 3).
	Healthy int
	// Buf is every subscription's buffer and the burst size (default 16).
	Buf int
	// SlowPeriod is the stalled subscriber's time per event in blocking
	// rows (default 20µs).
	SlowPeriod time.Duration
	// ConvertTimed puts the caller's conversion of each event (boxing it
	// into an any, for the APIs that take one: ImplEventBus, ImplChanAny,
	// ImplLibp2p) inside the timed call, as the stall rows measured before
	// 2026-12-06. By default the conversion is done per emit before the
	// first clock read, so that only the Emit is timed: the caller's
	// allocation (a 64-byte box whose allocator refills a span about every
	// 128 boxes, close to the 99th percentile) is the caller's cost, not
	// the bus's. Only valid for those APIs.
	ConvertTimed bool
}

// converts reports whether the row's API takes the event as an any, so that
// its caller boxes each event.
func (c StallConfig) converts() bool {
	return c.Impl == ImplEventBus || c.Impl == ImplChanAny || c.Impl == ImplLibp2p
}

// withDefaults fills zero fields.
func (c StallConfig) withDefaults() StallConfig {
	if c.Healthy == 0 {
		c.Healthy = 3
	}
	if c.Buf == 0 {
		c.Buf = eventbus.DefaultBufSize
	}
	if c.SlowPeriod == 0 {
		c.SlowPeriod = 20 * time.Microsecond
	}
	return c
}

// Blocking reports whether the stalled subscriber can hold up the emitter
// (Block policy, or go-libp2p's bus).
func (c StallConfig) Blocking() bool { return c.Impl == ImplLibp2p || c.Policy == eventbus.Block }

// PolicyName is the row's policy column: the meshbus policy, or "blocks"
// for go-libp2p's bus.
func (c StallConfig) PolicyName() string {
	if c.Impl == ImplLibp2p {
		return "always-block"
	}
	return c.Policy.String()
}

// Name is the row's benchmark name, e.g. "impl=meshbus-typed/policy=drop",
// with "/convert=timed" for a ConvertTimed row.
func (c StallConfig) Name() string {
	name := fmt.Sprintf("impl=%s/policy=%s", c.Impl, c.PolicyName())
	if c.ConvertTimed {
		name += "/convert=timed"
	}
	return name
}

// Validate reports the first bad field (after defaults).
func (c StallConfig) Validate() error {
	switch {
	case !c.Impl.isMeshbus() && c.Impl != ImplLibp2p && !c.Impl.isChan():
		return fmt.Errorf("%w: stall Impl %q: want %s, %s, %s, %s, %s or %s", ErrConfig, c.Impl, ImplTyped, ImplEventBus, ImplBatch, ImplChan, ImplChanAny, ImplLibp2p)
	case c.Impl.isChan() && c.Policy != eventbus.Drop:
		return fmt.Errorf("%w: stall floor %s drops (a select with a default); policy %v", ErrConfig, c.Impl, c.Policy)
	case c.Impl.isMeshbus() && (c.Policy < eventbus.Block || c.Policy > eventbus.Notify):
		return fmt.Errorf("%w: stall Policy %d is unknown", ErrConfig, c.Policy)
	case c.Healthy < 1:
		return fmt.Errorf("%w: stall Healthy %d is below 1", ErrConfig, c.Healthy)
	case c.Buf < 1:
		return fmt.Errorf("%w: stall Buf %d is below 1", ErrConfig, c.Buf)
	case c.SlowPeriod < 0:
		return fmt.Errorf("%w: stall SlowPeriod %v is negative", ErrConfig, c.SlowPeriod)
	case c.ConvertTimed && !c.converts():
		return fmt.Errorf("%w: stall ConvertTimed: the caller of %s converts nothing", ErrConfig, c.Impl)
	}
	return nil
}

// StallRows returns the stall scenario's rows: each meshbus policy through
// every API, the floors (plain channels that drop with a select's
// default: chan, and chan-any with the event boxed once per emit, before
// the clock starts, as the event.Bus API's caller boxes it), chan-any
// again with the boxing timed (ConvertTimed: the figure the floor showed
// before 2026-12-06, kept for comparison), then go-libp2p's bus.
func StallRows() []StallConfig {
	var out []StallConfig
	for _, impl := range []Impl{ImplTyped, ImplEventBus, ImplBatch} {
		for _, p := range []eventbus.Policy{eventbus.Drop, eventbus.Kill, eventbus.Notify, eventbus.Block} {
			out = append(out, StallConfig{Impl: impl, Policy: p}.withDefaults())
		}
	}
	for _, impl := range []Impl{ImplChan, ImplChanAny} {
		out = append(out, StallConfig{Impl: impl, Policy: eventbus.Drop}.withDefaults())
	}
	out = append(out, StallConfig{Impl: ImplChanAny, Policy: eventbus.Drop, ConvertTimed: true}.withDefaults())
	return append(out, StallConfig{Impl: ImplLibp2p}.withDefaults())
}

// Floor is the plain-channel stall row a row's p99 is compared with: chan
// for the typed and batch APIs, chan-any for the event.Bus API; never a
// ConvertTimed row (the ConvertTimed chan-any row's ratio is what timing
// the caller's boxing adds to the floor).
func (c StallConfig) Floor() StallConfig {
	impl := ImplChan
	if c.Impl == ImplEventBus || c.Impl == ImplChanAny {
		impl = ImplChanAny
	}
	return StallConfig{Impl: impl, Policy: eventbus.Drop, Healthy: c.Healthy, Buf: c.Buf, SlowPeriod: c.SlowPeriod}
}

// StallResult is one measured stall run.
type StallResult struct {
	// Config is the configuration run, defaults filled in.
	Config StallConfig
	// Events is how many events were emitted.
	Events int
	// P50, P99 and Max are the emitter's Emit latencies (each includes one
	// pair of clock reads; the caller's boxing only in ConvertTimed rows).
	P50, P99, Max time.Duration
	// HealthyReceived is what each healthy subscriber received.
	HealthyReceived []uint64
	// StalledReceived is what the stalled subscriber read (blocking rows).
	StalledReceived uint64
	// StalledQueued is what was left in the stalled subscriber's buffer.
	StalledQueued uint64
	// StalledDropped is what the bus counted as dropped for it.
	StalledDropped uint64
	// StalledKilled reports that the bus ended it with ErrKilled.
	StalledKilled bool
}

// HealthyMissed is the events the healthy subscribers did not receive,
// summed; it must be 0.
func (r StallResult) HealthyMissed() uint64 {
	var missed uint64
	for _, g := range r.HealthyReceived {
		if g < uint64(r.Events) {
			missed += uint64(r.Events) - g
		}
	}
	return missed
}

// Check verifies the accounting: every healthy subscriber received every
// event exactly once, and the stalled subscriber's received + queued +
// dropped == emitted, except under Kill, where it must have been killed
// with a full buffer (events after the kill are owed to nobody).
func (r StallResult) Check() error {
	n := uint64(r.Events)
	for i, g := range r.HealthyReceived {
		if g != n {
			return fmt.Errorf("%s: %w: healthy subscriber %d received %d of %d events",
				r.Config.Name(), ErrAccounting, i, g, n)
		}
	}
	stalled := r.StalledReceived + r.StalledQueued + r.StalledDropped
	if r.Config.Impl.isMeshbus() && r.Config.Policy == eventbus.Kill {
		if n > uint64(r.Config.Buf) && !r.StalledKilled {
			return fmt.Errorf("%s: %w: the stalled subscriber overflowed and was not killed", r.Config.Name(), ErrAccounting)
		}
		if want := min(n, uint64(r.Config.Buf)); stalled != want {
			return fmt.Errorf("%s: %w: killed subscriber kept %d events, want %d", r.Config.Name(), ErrAccounting, stalled, want)
		}
		return nil
	}
	if stalled != n {
		return fmt.Errorf("%s: %w: stalled subscriber: received %d + queued %d + dropped %d != emitted %d",
			r.Config.Name(), ErrAccounting, r.StalledReceived, r.StalledQueued, r.StalledDropped, n)
	}
	return nil
}

// stallRig is a stall row set up: the emit function, the healthy
// subscribers' counters, and the stalled subscriber's probes.
type stallRig struct {
	// emit is the Emit of an API that takes the event as it is (typed,
	// batch, chan); emitAny that of one that takes an any (event.Bus,
	// chan-any, go-libp2p), whose caller boxes the event first. One of
	// the two is set.
	emit    func(Event) error
	emitAny func(any) error
	healthy []*paddedCounter
	// stalledLen, stalledDropped and stalledKilled read the stalled
	// subscription; stalledRead is what its slow reader read (blocking rows).
	stalledLen     func() int
	stalledDropped func() uint64
	stalledKilled  func() bool
	stalledRead    atomic.Uint64
	stopSlow       chan struct{} // closed to stop the slow reader
	slowDone       sync.WaitGroup
	drainers       sync.WaitGroup
	closeFn        func() error
}

// paddedCounter keeps each healthy subscriber's counter on its own cache
// line, so that counting does not slow the emitter down by false sharing.
type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

// healthyDrain counts what arrives on ch until it closes.
func healthyDrain[E any](r *stallRig, ch <-chan E) {
	c := &paddedCounter{}
	r.healthy = append(r.healthy, c)
	r.drainers.Add(1)
	go func() {
		defer r.drainers.Done()
		for range ch {
			c.n.Add(1)
		}
	}()
}

// slowRead starts the stalled subscriber's slow reader for blocking rows:
// it reads one event per period, standing for a consumer that does that
// much work per event, until stopSlow is closed.
func slowRead[E any](r *stallRig, ch <-chan E, period time.Duration) {
	r.slowDone.Add(1)
	go func() {
		defer r.slowDone.Done()
		for {
			select {
			case <-r.stopSlow:
				return
			case _, ok := <-ch:
				if !ok {
					return
				}
				r.stalledRead.Add(1)
				work(period, r.stopSlow)
			}
		}
	}()
}

// work stands for a consumer's per-event work: it busy-waits for d,
// yielding its processor to other goroutines meanwhile, or returns early
// when stop closes. It does not sleep: the timer granularity of small
// virtual machines (a millisecond here) would stretch a 20µs pause 50-fold.
func work(d time.Duration, stop <-chan struct{}) {
	for t0 := time.Now(); time.Since(t0) < d; {
		select {
		case <-stop:
			return
		default:
		}
		runtime.Gosched()
	}
}

// healthyDrainBatch is healthyDrain for a batch subscription, reading
// batches of up to batch events.
func healthyDrainBatch(r *stallRig, s *eventbus.BatchSubscription[Event], batch int) {
	c := &paddedCounter{}
	r.healthy = append(r.healthy, c)
	r.drainers.Add(1)
	go func() {
		defer r.drainers.Done()
		buf := make([]Event, batch)
		for {
			b, err := s.Next(context.Background(), buf)
			if err != nil {
				return
			}
			c.n.Add(uint64(len(b)))
		}
	}()
}

// slowReadBatch is slowRead for a batch subscription: one event per period.
func slowReadBatch(r *stallRig, s *eventbus.BatchSubscription[Event], period time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	r.slowDone.Add(2)
	go func() {
		defer r.slowDone.Done()
		<-r.stopSlow
		cancel()
	}()
	go func() {
		defer r.slowDone.Done()
		buf := make([]Event, 1)
		for {
			if _, err := s.Next(ctx, buf); err != nil {
				return
			}
			r.stalledRead.Add(1)
			work(period, r.stopSlow)
		}
	}()
}

func newStallRig(c StallConfig) (*stallRig, error) {
	r := &stallRig{stopSlow: make(chan struct{})}
	switch {
	case c.Impl == ImplLibp2p:
		return r, setupStallLibp2p(r, c)
	case c.Impl == ImplChan:
		r.emit = setupStallChan[Event](r, c)
		return r, nil
	case c.Impl == ImplChanAny:
		r.emitAny = setupStallChan[any](r, c)
		return r, nil
	}
	return r, setupStallMeshbus(r, c)
}

// setupStallChan sets up a floor row: a buffered channel per subscriber,
// the healthy ones drained, the stalled one never read. It returns the
// emit: offer the value (for chan-any, the event as its caller boxed it)
// to each channel with a select's default (a plain channel's Drop).
func setupStallChan[E any](r *stallRig, c StallConfig) func(E) error {
	chans := make([]chan E, 0, c.Healthy+1)
	for range c.Healthy {
		ch := make(chan E, c.Buf)
		chans = append(chans, ch)
		healthyDrain(r, ch)
	}
	stalled := make(chan E, c.Buf)
	chans = append(chans, stalled)
	var dropped uint64 // written by the emitter only
	emit := func(v E) error {
		for _, ch := range chans {
			select {
			case ch <- v:
			default:
				dropped++
			}
		}
		return nil
	}
	r.stalledLen = func() int { return len(stalled) }
	r.stalledDropped = func() uint64 { return dropped }
	r.stalledKilled = func() bool { return false }
	r.closeFn = func() error {
		for _, ch := range chans {
			close(ch)
		}
		return nil
	}
	return emit
}

func setupStallMeshbus(r *stallRig, c StallConfig) error {
	b, _ := newMeshbus(false)
	var subs []meshSub
	closeAll := func() error {
		var errs []error
		for _, s := range subs {
			errs = append(errs, s.Close())
		}
		return errors.Join(append(errs, b.Close())...)
	}
	opts := func(name string) []event.SubscriptionOpt {
		return []event.SubscriptionOpt{eventbus.BufSize(c.Buf), eventbus.WithPolicy(c.Policy), eventbus.Name(name)}
	}
	for i := range c.Healthy {
		s, out, err := subscribeMeshbus(b, c.Impl, opts(fmt.Sprintf("healthy-%d", i))...)
		if err != nil {
			return errors.Join(err, closeAll())
		}
		subs = append(subs, s)
		switch {
		case out.batch != nil:
			healthyDrainBatch(r, out.batch, c.Buf)
		case out.typed != nil:
			healthyDrain(r, out.typed)
		default:
			healthyDrain(r, out.boxed)
		}
	}
	stalled, out, err := subscribeMeshbus(b, c.Impl, opts("stalled")...)
	if err != nil {
		return errors.Join(err, closeAll())
	}
	subs = append(subs, stalled)
	if c.Blocking() {
		switch {
		case out.batch != nil:
			slowReadBatch(r, out.batch, c.SlowPeriod)
		case out.typed != nil:
			slowRead(r, out.typed, c.SlowPeriod)
		default:
			slowRead(r, out.boxed, c.SlowPeriod)
		}
	}
	r.stalledLen = out.len
	r.stalledDropped = stalled.Dropped
	r.stalledKilled = func() bool { return errors.Is(stalled.Err(), eventbus.ErrKilled) }
	var closeEm func() error
	if c.Impl == ImplEventBus {
		em, err := b.Emitter(new(Event))
		if err != nil {
			return errors.Join(err, closeAll())
		}
		r.emitAny, closeEm = em.Emit, em.Close
	} else {
		emit, cl, err := typedEmitterFunc(b)
		if err != nil {
			return errors.Join(err, closeAll())
		}
		r.emit, closeEm = emit, cl
	}
	r.closeFn = func() error { return errors.Join(closeEm(), closeAll()) }
	return nil
}

func setupStallLibp2p(r *stallRig, c StallConfig) error {
	bus := newLibp2pBus(false)
	var subs []event.Subscription
	closeAll := func() error {
		var errs []error
		for _, s := range subs {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	for i := range c.Healthy {
		s, err := bus.Subscribe(new(Event), lpbus.BufSize(c.Buf), lpbus.Name(fmt.Sprintf("healthy-%d", i)))
		if err != nil {
			return errors.Join(err, closeAll())
		}
		subs = append(subs, s)
		healthyDrain(r, s.Out())
	}
	stalled, err := bus.Subscribe(new(Event), lpbus.BufSize(c.Buf), lpbus.Name("stalled"))
	if err != nil {
		return errors.Join(err, closeAll())
	}
	subs = append(subs, stalled)
	slowRead(r, stalled.Out(), c.SlowPeriod)
	r.stalledLen = func() int { return len(stalled.Out()) }
	r.stalledDropped = func() uint64 { return 0 } // go-libp2p never drops
	r.stalledKilled = func() bool { return false }
	em, err := bus.Emitter(new(Event))
	if err != nil {
		return errors.Join(err, closeAll())
	}
	r.emitAny = em.Emit
	r.closeFn = func() error { return errors.Join(em.Close(), closeAll()) }
	return nil
}

// waitHealthy spins until every healthy subscriber has received n events,
// or the deadline passes.
func (r *stallRig) waitHealthy(n uint64, deadline time.Time) error {
	for spins := 0; ; spins++ {
		behind := false
		for _, c := range r.healthy {
			if c.n.Load() < n {
				behind = true
				break
			}
		}
		if !behind {
			return nil
		}
		if spins%1024 == 1023 && time.Now().After(deadline) {
			return fmt.Errorf("%w: healthy subscribers short of %d events", ErrTimeout, n)
		}
		runtime.Gosched()
	}
}

// boxEvent boxes ev as a caller of an Emit(any) does: a new 64-byte box on
// every call (not inlined, so that the compiler cannot hoist or share it).
//
//go:noinline
func boxEvent(ev Event) any { return ev }

// RunStall runs one stall row for n events and returns its latencies and
// accounting. It fails on a timeout or an accounting mismatch (the result
// is returned either way).
func RunStall(c StallConfig, n int) (StallResult, error) {
	return runStallTimed(c, n, func() {}, func() {})
}

// runStallTimed is RunStall calling start just before the first Emit and
// stop just after the last (a benchmark's StartTimer and StopTimer).
func runStallTimed(c StallConfig, n int, start, stop func()) (StallResult, error) {
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return StallResult{}, err
	}
	if n < 1 {
		return StallResult{}, fmt.Errorf("%w: %d events, want at least 1", ErrConfig, n)
	}
	r, err := newStallRig(c)
	if err != nil {
		return StallResult{}, fmt.Errorf("%s: %w", c.Name(), err)
	}
	lat := make([]time.Duration, n)
	ev := sampleEvent()
	deadline := time.Now().Add(RunTimeout)
	runtime.GC()
	start()
	var runErr error
	emitted := 0
	for i := range n {
		var t0 time.Time
		var err error
		switch {
		case r.emitAny == nil:
			t0 = time.Now()
			err = r.emit(ev)
		case c.ConvertTimed:
			t0 = time.Now()
			err = r.emitAny(boxEvent(ev))
		default:
			// The caller's conversion, per emit, before the clock starts.
			v := boxEvent(ev)
			t0 = time.Now()
			err = r.emitAny(v)
		}
		lat[i] = time.Since(t0)
		if err != nil {
			runErr = fmt.Errorf("emit %d: %w", i, err)
			break
		}
		emitted++
		if (i+1)%c.Buf == 0 || i == n-1 {
			if err := r.waitHealthy(uint64(i+1), deadline); err != nil {
				runErr = err
				break
			}
		}
	}
	stop()
	// Stop the slow reader before reading the stalled queue, so that the
	// queue stays put while it is counted.
	close(r.stopSlow)
	r.slowDone.Wait()
	res := StallResult{
		Config:          c,
		Events:          emitted,
		StalledReceived: r.stalledRead.Load(),
		StalledQueued:   uint64(r.stalledLen()),
		StalledDropped:  r.stalledDropped(),
		StalledKilled:   r.stalledKilled(),
	}
	closeErr := r.closeFn()
	r.drainers.Wait()
	for _, h := range r.healthy {
		res.HealthyReceived = append(res.HealthyReceived, h.n.Load())
	}
	if lat = lat[:emitted]; len(lat) > 0 {
		slices.Sort(lat)
		res.P50, res.P99, res.Max = Percentile(lat, 50), Percentile(lat, 99), lat[len(lat)-1]
	}
	if err := errors.Join(runErr, closeErr); err != nil {
		return res, fmt.Errorf("%s: %w", c.Name(), err)
	}
	return res, res.Check()
}
