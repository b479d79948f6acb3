// Command gopubsub-interop is the reference node for the libp2p GossipSub
// interop test plans, built on go-libp2p-pubsub: the same contract as
// meshbus-interop (test-specs/implementation.md of libp2p/test-plans) with
// the implementation the plans call "go", so that the runner can compare
// meshbus with it in one network. It is written here from the contract;
// like the plans' own go node it logs a "Received Message" record for every
// message of every RPC received (RecvRPC), duplicates included.
//
// INTEROP_DEBUG=1 in the environment turns on debug diagnostics.
//
// Partial-message instructions fail with a clear "unsupported instruction"
// error (not implemented in this reference).
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
		log.Error("gopubsub-interop failed", "err", err)
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
	b, err := newBackend(id, rec, log)
	if err != nil {
		return err
	}
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
