package host_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
	"github.com/meshbus/meshbus/host"
)

// Two nodes on loopback: the second joins through the first
// (WithBootstrapPeers), and the first sees it connect on its bus.
func Example() {
	ctx := context.Background()
	quiet := host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, err := host.New(ctx, quiet)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	connected, err := eventbus.Subscribe[events.EvtPeerConnectednessChanged](a.Bus(), eventbus.BufSize(16))
	if err != nil {
		panic(err)
	}
	defer connected.Close()
	addrs, err := a.Addrs()
	if err != nil {
		panic(err)
	}
	b, err := host.New(ctx, quiet, host.WithBootstrapPeers(addrs[0].String()))
	if err != nil {
		panic(err)
	}
	defer b.Close()
	for e := range connected.Out() {
		if e.Peer == b.ID() {
			fmt.Println("a sees b:", e.Connectedness)
			break
		}
	}
	// Output: a sees b: Connected
}

// Uptime is an add-on: a type of your own, built from what the node
// provides.
type Uptime struct{ started time.Time }

// NewUptime is the add-on's constructor; the node calls it and runs its
// hooks although nothing else asks for an *Uptime.
func NewUptime(lc fx.Lifecycle, bus *eventbus.Bus) *Uptime {
	u := &Uptime{}
	lc.Append(fx.Hook{OnStart: func(context.Context) error {
		u.started = time.Now()
		fmt.Println("uptime add-on started")
		return nil
	}})
	return u
}

// An add-on is one option: WithComponent names it and the node constructs
// and starts it with the built-ins.
func ExampleWithComponent() {
	quiet := host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	n, err := host.New(context.Background(), quiet, host.WithComponent("uptime", fx.Provide(NewUptime)))
	if err != nil {
		panic(err)
	}
	defer n.Close()
	fmt.Println("router:", n.Router() != nil, "peer manager:", n.PeerManager() != nil)
	// Output:
	// uptime add-on started
	// router: true peer manager: true
}
