// Command pubsub is the README's quickstart: two nodes on loopback, one
// topic, one message from one to the other.
//
//	go run ./examples/pubsub
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/meshbus/meshbus/components/router"
	"github.com/meshbus/meshbus/host"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pubsub:", err)
		os.Exit(1)
	}
}

// run starts two nodes, connects them, and has one publish to the other.
func run(out io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a, err := host.New(ctx) // TCP and QUIC on 127.0.0.1, every built-in component
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := host.New(ctx)
	if err != nil {
		return err
	}
	defer b.Close()
	if err := b.Connect(ctx, a.AddrInfo()); err != nil {
		return err
	}

	ta, err := a.Router().Join("chat")
	if err != nil {
		return err
	}
	tb, err := b.Router().Join("chat")
	if err != nil {
		return err
	}
	sub, err := tb.Subscribe()
	if err != nil {
		return err
	}

	// Wait until a knows one peer in the topic, then publish.
	if err := ta.Publish(ctx, []byte("hello"), router.WithReadiness(router.MinTopicSize(1))); err != nil {
		return err
	}
	m, err := sub.Next(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s from %s\n", m.Data, m.From)
	return nil
}
