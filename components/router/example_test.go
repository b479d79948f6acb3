package router_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/host"
)

// Publish and subscribe between two nodes: the publisher waits until the
// topic has a peer (WithReadiness), the subscriber reads the message.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	quiet := host.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	a, err := host.New(ctx, quiet)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	addrs, _ := a.Addrs()
	b, err := host.New(ctx, quiet, host.WithBootstrapPeers(addrs[0].String()))
	if err != nil {
		panic(err)
	}
	defer b.Close()

	tb, err := b.Router().Join("news")
	if err != nil {
		panic(err)
	}
	sub, err := tb.Subscribe()
	if err != nil {
		panic(err)
	}
	ta, err := a.Router().Join("news")
	if err != nil {
		panic(err)
	}
	if err := ta.Publish(ctx, []byte("hello"), router.WithReadiness(router.MinTopicSize(1))); err != nil {
		panic(err)
	}
	m, err := sub.Next(ctx)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s on %s\n", m.Data, m.Topic)
	// Output: hello on news
}
