// Command meshbus-interop is meshbus's node for the libp2p GossipSub interop
// test plans (libp2p/test-plans, gossipsub-interop): it follows
// test-specs/implementation.md. The node id comes from the host name nodeN,
// the ed25519 key from the node id; it listens on TCP port 9000, reads
// --params params.json and runs its script; messages are unsigned
// (StrictNoSign, no author) with the plans' message id (the first 8 bytes of
// data). Standard output carries the plans' NDJSON records (PeerID, and
// Received Message for every copy received, duplicates included);
// diagnostics go to standard error. The process exits when the script ends.
//
// The router is meshbus's components/router in a host.New assembly without
// the scorer and the peer manager, matching the reference node (no peer
// scoring, no connection manager). Partial-message instructions fail with a
// clear "unsupported instruction" error: the router has no partial messages
// yet.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/meshbus/meshbus/interop/testplans/script"
)

func main() {
	start := time.Now()
	params := flag.String("params", "", "path of the params.json file (the plans' ExperimentParams)")
	flag.Parse()
	level := slog.LevelInfo
	if os.Getenv("INTEROP_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(start, *params, log); err != nil {
		log.Error("meshbus-interop failed", "err", err)
		os.Exit(1)
	}
}

func run(start time.Time, paramsPath string, log *slog.Logger) error {
	p, err := script.ReadParams(paramsPath)
	if err != nil {
		return err
	}
	id, err := script.NodeID()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rec := script.NewRecorder(os.Stdout)
	defer func() {
		if err := rec.Close(); err != nil {
			log.Error("writing records", "err", err)
		}
	}()
	rec.PeerID(script.PeerIDOf(id), id)
	b := newBackend(id, rec, log)
	defer func() {
		if err := b.Close(); err != nil {
			log.Warn("close", "err", err)
		}
	}()
	if err := script.Run(ctx, script.Config{NodeID: id, Start: start, Log: log, Recorder: rec}, p, b); err != nil {
		return fmt.Errorf("node%d: %w", id, err)
	}
	return nil
}
