// Command meshbus is a command-line meshbus node: it joins topics, publishes
// each line read from standard input, and prints the messages it receives
// and the changes of its meshes and connections.
//
// Two terminals on one machine make a chat:
//
//	go run ./cmd/meshbus --listen /ip4/127.0.0.1/tcp/4001
//	go run ./cmd/meshbus --bootstrap /ip4/127.0.0.1/tcp/4001/p2p/<id printed by the first>
//
// then type a line in either. Flags: --topic (repeatable, default "chat"),
// --listen and --bootstrap (repeatable or comma-separated multiaddrs),
// --metrics host:port (Prometheus /metrics with Go runtime and process
// collectors), --dashboard host:port (the live dashboard in the browser,
// see docs/dashboard.md), --store path (persistent peer store), --key path (persistent
// identity, created on first use), --mdns and --dht (discovery). SIGINT or
// SIGTERM (or the end of standard input) shuts the node down cleanly and the
// command exits 0.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
