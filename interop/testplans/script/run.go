package script

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Backend is one GossipSub implementation under the script. Run calls it
// in script order, from one goroutine except Connect, which the dials of
// one connect instruction call concurrently. Init comes first; calling anything
// else before it is the script's error, reported by Run.
type Backend interface {
	// Init starts the router with p applied over the implementation's
	// defaults. Parameters the implementation cannot honour are listed in
	// the returned notes (written to the diagnostics), not errors.
	Init(ctx context.Context, p GossipSubParams) (notes []string, err error)
	// Connect dials ai and returns once the connection is up.
	Connect(ctx context.Context, ai peer.AddrInfo) error
	// Subscribe joins topic and logs every copy of its messages through the
	// Recorder it was built with.
	Subscribe(ctx context.Context, topic string) error
	// SetValidationDelay makes every message of topic take d to validate.
	SetValidationDelay(topic string, d time.Duration) error
	// Publish publishes data on topic (joining it if needed). A message id
	// already published or seen is no error: the message is dropped, as
	// go-libp2p-pubsub drops it (scripttest.CheckRepeatedPublish).
	Publish(ctx context.Context, topic string, data []byte) error
}

// PartialBackend is implemented by backends that support the partial
// messages extension (the plans' encoding is PartialGroup's); without it the
// partial-message instructions fail with ErrUnsupportedInstruction. Its
// methods are called like Backend's.
type PartialBackend interface {
	// SubscribePartial joins topic requesting partial messages, and
	// subscribes to it.
	SubscribePartial(ctx context.Context, topic string) error
	// AddPartialMessage adds the parts of the bitmap parts to group groupID
	// of topic, and writes "All parts received" (Recorder.AllPartsReceived)
	// if that completes the group.
	AddPartialMessage(topic string, groupID uint64, parts uint8) error
	// PublishPartial offers the group to the topic's mesh, or to the peers
	// to when it is not nil. The group must exist (added or received).
	PublishPartial(ctx context.Context, topic string, groupID uint64, to []peer.ID) error
}

// Config is what Run needs besides the script and the backend.
type Config struct {
	// NodeID is this node's id.
	NodeID int
	// Start is the instant elapsedSeconds count from (the process start).
	Start time.Time
	// Clock measures waitUntil (default: the real clock).
	Clock clock.Clock
	// Resolve returns node id's IPv4 address (default: look up "nodeN").
	Resolve func(ctx context.Context, id int) (string, error)
	// ConnectTimeout bounds the retries of one connect (default 60 s): the
	// other node may still be starting, as processes on one machine do not
	// start at the same instant the way a simulator's do.
	ConnectTimeout time.Duration
	// Log receives diagnostics (default slog.Default()).
	Log *slog.Logger
	// Recorder writes "Published Message" and "Published Partial" records
	// (optional).
	Recorder *Recorder
}

// LookupNode resolves "nodeN" through the system resolver (/etc/hosts).
func LookupNode(ctx context.Context, id int) (string, error) {
	addrs, err := net.DefaultResolver.LookupHost(ctx, fmt.Sprintf("node%d", id))
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.To4() != nil {
			return a, nil
		}
	}
	if len(addrs) == 0 {
		return "", fmt.Errorf("node%d has no address", id)
	}
	return addrs[0], nil
}

// Run executes the script on b. It returns the first instruction error,
// naming the instruction; ctx cancels waits and dials.
func Run(ctx context.Context, cfg Config, p ExperimentParams, b Backend) error {
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.Resolve == nil {
		cfg.Resolve = LookupNode
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 60 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	x := &executor{cfg: cfg, b: b}
	for i, in := range p.Script {
		if err := x.run(ctx, in); err != nil {
			return fmt.Errorf("script[%d] %s: %w", i, in.Type(), err)
		}
	}
	return nil
}

type executor struct {
	cfg    Config
	b      Backend
	inited bool
}

var errNotInited = errors.New("initGossipSub must come first")

func (x *executor) run(ctx context.Context, in Instruction) error {
	if _, ok := in.(InitGossipSub); !ok && !x.inited {
		switch in.(type) {
		case IfNodeIDEquals, WaitUntil:
		default:
			return fmt.Errorf("%w: %w", ErrBadParams, errNotInited)
		}
	}
	switch v := in.(type) {
	case InitGossipSub:
		if x.inited {
			return fmt.Errorf("%w: initGossipSub given twice", ErrBadParams)
		}
		notes, err := x.b.Init(ctx, v.GossipSubParams)
		for _, n := range notes {
			x.cfg.Log.Warn("gossipSubParams", "note", n)
		}
		if err != nil {
			return err
		}
		x.inited = true
	case IfNodeIDEquals:
		if v.NodeID == x.cfg.NodeID {
			return x.run(ctx, v.Instruction)
		}
	case WaitUntil:
		d := x.cfg.Start.Add(time.Duration(v.ElapsedSeconds) * time.Second).Sub(x.cfg.Clock.Now())
		if d > 0 {
			t := x.cfg.Clock.Timer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	case Connect:
		return x.connectAll(ctx, v.ConnectTo)
	case SubscribeToTopic:
		if v.Partial {
			pb, ok := x.b.(PartialBackend)
			if !ok {
				return fmt.Errorf("%w %q (partial: true): this implementation has no partial messages", ErrUnsupportedInstruction, v.Type())
			}
			return pb.SubscribePartial(ctx, v.TopicID)
		}
		return x.b.Subscribe(ctx, v.TopicID)
	case SetTopicValidationDelay:
		return x.b.SetValidationDelay(v.TopicID, time.Duration(v.DelaySeconds*float64(time.Second)))
	case Publish:
		data := MessageData(v.MessageID, v.MessageSizeBytes)
		x.cfg.Log.Info("publishing", "message", v.MessageID, "elapsed", x.cfg.Clock.Since(x.cfg.Start).Round(time.Millisecond))
		if err := x.b.Publish(ctx, v.TopicID, data); err != nil {
			return fmt.Errorf("message %d: %w", v.MessageID, err)
		}
		if x.cfg.Recorder != nil {
			x.cfg.Recorder.Published(time.Now(), MsgID(data), v.TopicID)
		}
	case AddPartialMessage:
		pb, ok := x.b.(PartialBackend)
		if !ok {
			return fmt.Errorf("%w %q: this implementation has no partial messages", ErrUnsupportedInstruction, v.Type())
		}
		if v.Parts < 0 || v.Parts > 255 {
			return fmt.Errorf("%w: parts %d is not a uint8 bitmap", ErrBadParams, v.Parts)
		}
		return pb.AddPartialMessage(v.TopicID, v.GroupID, uint8(v.Parts))
	case PublishPartial:
		pb, ok := x.b.(PartialBackend)
		if !ok {
			return fmt.Errorf("%w %q: this implementation has no partial messages", ErrUnsupportedInstruction, v.Type())
		}
		var to []peer.ID
		for _, id := range v.PublishToNodeIDs {
			to = append(to, PeerIDOf(id))
		}
		if x.cfg.Recorder != nil {
			x.cfg.Recorder.PublishedPartial(time.Now(), v.GroupID, v.TopicID)
		}
		return pb.PublishPartial(ctx, v.TopicID, v.GroupID, to)
	default:
		return fmt.Errorf("%w %q", ErrUnknownInstruction, in.Type())
	}
	return nil
}

// connectParallel bounds the dials of one connect instruction in flight.
// The plans' own nodes dial one after the other; on one machine that takes
// several seconds for 20 peers (each dial is a few round trips) and the
// shortened scenarios cannot wait that long. Every backend gets the same.
const connectParallel = 4

// connectAll dials every node of ids, connectParallel at a time, and
// returns the first error once all dials ended.
func (x *executor) connectAll(ctx context.Context, ids []int) error {
	t0 := x.cfg.Clock.Now()
	sem := make(chan struct{}, connectParallel)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = x.connect(ctx, id)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	x.cfg.Log.Info("connected", "peers", len(ids), "took", x.cfg.Clock.Since(t0).Round(time.Millisecond))
	return nil
}

// connect dials node id, retrying while it is not yet listening.
func (x *executor) connect(ctx context.Context, id int) error {
	if id == x.cfg.NodeID {
		return fmt.Errorf("%w: node %d told to connect to itself", ErrBadParams, id)
	}
	ctx, cancel := context.WithTimeout(ctx, x.cfg.ConnectTimeout)
	defer cancel()
	var last error
	for attempt := 0; ; attempt++ {
		ip, err := x.cfg.Resolve(ctx, id)
		if err == nil {
			var addr ma.Multiaddr
			addr, err = ma.NewMultiaddr(fmt.Sprintf("/ip4/%s/tcp/%d", ip, Port))
			if err == nil {
				err = x.b.Connect(ctx, peer.AddrInfo{ID: PeerIDOf(id), Addrs: []ma.Multiaddr{addr}})
				if err == nil {
					return nil
				}
			}
		}
		last = err
		x.cfg.Log.Debug("connect attempt failed", "node", id, "attempt", attempt, "err", err)
		// Back off exponentially (250 ms to 4 s): libp2p's resource manager
		// allows only a burst of new connections per remote IP, then one per
		// 5 s; hammering a node that is still starting would exhaust it.
		t := x.cfg.Clock.Timer(250 * time.Millisecond << min(attempt, 4))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("node%d: %w (last: %v)", id, ctx.Err(), last)
		}
	}
}
