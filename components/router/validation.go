package router

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/automaton"
	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/internal/clockctx"
)

// ValidationResult is a validator's verdict on a message.
type ValidationResult uint8

// The verdicts, with GossipSub v1.1 semantics.
const (
	// ValidationAccept: deliver the message locally and forward it.
	ValidationAccept ValidationResult = iota + 1
	// ValidationReject: the message is invalid; it is dropped and the peers
	// that sent it are penalised (score term P4).
	ValidationReject
	// ValidationIgnore: drop the message without penalty (for example it is
	// stale, or the validator cannot tell yet).
	ValidationIgnore
)

// String returns the verdict's name.
func (v ValidationResult) String() string {
	switch v {
	case ValidationAccept:
		return "accept"
	case ValidationReject:
		return "reject"
	case ValidationIgnore:
		return "ignore"
	}
	return "unknown"
}

func (v ValidationResult) automaton() automaton.ValidationResult {
	switch v {
	case ValidationAccept:
		return automaton.ValidationAccept
	case ValidationReject:
		return automaton.ValidationReject
	}
	return automaton.ValidationIgnore
}

// Validator decides whether a message of its topic is delivered and
// forwarded. from is the peer that sent it (the local peer id for local
// publishes). It must not modify msg. A panicking validator counts as
// ValidationIgnore and is logged; an unknown result counts as ignore.
type Validator func(ctx context.Context, from peer.ID, msg *Message) ValidationResult

// ValidatorOption configures RegisterValidator.
type ValidatorOption func(*validator)

// ValidatorInline runs the validator on the driver goroutine itself, with no
// goroutine or throttle: for cheap, non-blocking checks only, since the
// whole router waits for it.
func ValidatorInline() ValidatorOption { return func(v *validator) { v.inline = true } }

// ValidatorConcurrency bounds the asynchronous validations of the topic
// running at once (default from WithValidationConcurrency). A message that
// finds the bound reached is not validated: it is dropped as
// RejectValidationThrottled (no penalty) and counted.
func ValidatorConcurrency(n int) ValidatorOption { return func(v *validator) { v.conc = n } }

// ValidatorTimeout sets the deadline of the validator's context (default
// from WithValidationTimeout). The verdict returned after it is still used:
// validators should give up (ValidationIgnore) when ctx is done.
func ValidatorTimeout(d time.Duration) ValidatorOption { return func(v *validator) { v.timeout = d } }

type validator struct {
	fn      Validator
	inline  bool
	conc    int
	timeout time.Duration
	sem     chan struct{}
}

// valResult is an asynchronous validator's verdict on m, for the driver.
// valDoneBuffer is the buffer of the channel that carries async
// validations' verdicts to the driver. A verdict that finds it full waits
// in its goroutine until the driver reads it; the validation's slot of the
// topic's concurrency bound is already free by then, so the buffer only
// saves those goroutines a wait, and it is allocated whole for the
// router's life (at 256 it was about 5 KB a router, most never used).
const valDoneBuffer = 32

type valResult struct {
	m   *Message
	res automaton.ValidationResult
}

// RegisterValidator installs fn as the validator of topic (joined or not);
// received and locally published messages of the topic go through it. A
// topic has at most one validator (ErrValidatorExists).
func (r *Router) RegisterValidator(topic string, fn Validator, opts ...ValidatorOption) error {
	if fn == nil {
		return fmt.Errorf("%w: validator must not be nil", ErrBadOption)
	}
	v := &validator{fn: fn, conc: r.cfg.valConc, timeout: r.cfg.valTimeout}
	for _, o := range opts {
		o(v)
	}
	if v.conc < 1 {
		return fmt.Errorf("%w: ValidatorConcurrency must be at least 1", ErrBadOption)
	}
	if v.timeout <= 0 {
		return fmt.Errorf("%w: ValidatorTimeout must be positive", ErrBadOption)
	}
	v.sem = make(chan struct{}, v.conc)
	for {
		old := r.vals.Load()
		if _, ok := (*old)[topic]; ok {
			return fmt.Errorf("%w: topic %q", ErrValidatorExists, topic)
		}
		m := maps.Clone(*old)
		m[topic] = v
		if r.vals.CompareAndSwap(old, &m) {
			return nil
		}
	}
}

// UnregisterValidator removes topic's validator; validations in flight
// finish with it.
func (r *Router) UnregisterValidator(topic string) {
	for {
		old := r.vals.Load()
		if _, ok := (*old)[topic]; !ok {
			return
		}
		m := maps.Clone(*old)
		delete(m, topic)
		if r.vals.CompareAndSwap(old, &m) {
			return
		}
	}
}

// validatorFor returns topic's validator, or nil. Safe on any goroutine.
func (r *Router) validatorFor(topic string) *validator { return (*r.vals.Load())[topic] }

// call runs the validator, turning a panic into ignore.
func (r *Router) callValidator(ctx context.Context, v *validator, from peer.ID, m *Message) (res ValidationResult) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("validator panicked", "topic", m.Topic, "panic", p)
			res = ValidationIgnore
		}
	}()
	return v.fn(ctx, from, m)
}

// validate starts the validation of a message the automaton holds pending.
func (r *Router) validate(from peer.ID, msg *pb.Message, id string) {
	m := newMessage(msg, id, from)
	v := r.validatorFor(m.Topic)
	switch {
	case v == nil:
		r.finishValidation(m, automaton.ValidationAccept)
		return
	case v.inline:
		r.finishValidation(m, r.callValidator(r.ctx, v, from, m).automaton())
		return
	}
	select {
	case v.sem <- struct{}{}:
	default:
		r.finishValidation(m, automaton.ValidationThrottled)
		return
	}
	r.m.v.AddGauge(mValidationsAsync, 1)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ctx, cancel := clockctx.WithTimeout(r.clk, r.ctx, v.timeout)
		res := r.callValidator(ctx, v, from, m).automaton()
		cancel()
		<-v.sem
		r.m.v.AddGauge(mValidationsAsync, -1)
		select {
		case r.valDone <- valResult{m: m, res: res}:
		case <-r.ctx.Done():
		}
	}()
}

// finishValidation gives the verdict on m to the automaton, which holds the
// one set of pending validations, and, on delivery, hands m to the local
// subscriptions. The driver keeps no pending set of its own: m travels with
// its validation.
func (r *Router) finishValidation(m *Message, res automaton.ValidationResult) {
	o := r.aut.Validated(r.clk.Now(), m.ID, res, &r.out)
	r.m.outcome(o)
	if o == automaton.OutcomeDelivered {
		// Counted before local delivery, so a subscriber that sees the
		// message also sees it counted.
		r.m.v.Inc(mDelivered)
		r.deliverLater(m)
	}
}
