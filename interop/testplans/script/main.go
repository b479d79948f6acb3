package script

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// NodeBackend is a Backend a node binary closes when its script ends.
type NodeBackend interface {
	Backend
	// Close stops the backend and releases what it holds. Main calls it
	// once, after the script ends (or fails), and only logs its error.
	Close() error
}

// Main is the whole of a test-plan node binary: it reads --params, takes the
// node id from the host name, writes the PeerID record, builds the backend
// with newBackend, runs the script until it ends or SIGINT/SIGTERM, and
// exits 1 on error. Diagnostics go to standard error (INTEROP_DEBUG=1 turns
// on debug), records to standard output. name labels the failure message.
func Main(name string, newBackend func(id int, rec *Recorder, log *slog.Logger) (NodeBackend, error)) {
	start := time.Now()
	params := flag.String("params", "", "path of the params.json file (the plans' ExperimentParams)")
	flag.Parse()
	level := slog.LevelInfo
	if os.Getenv("INTEROP_DEBUG") != "" {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := runNode(start, *params, log, newBackend); err != nil {
		log.Error(name+" failed", "err", err)
		os.Exit(1)
	}
}

func runNode(start time.Time, paramsPath string, log *slog.Logger, newBackend func(int, *Recorder, *slog.Logger) (NodeBackend, error)) error {
	p, err := ReadParams(paramsPath)
	if err != nil {
		return err
	}
	id, err := NodeID()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rec := NewRecorder(os.Stdout)
	defer func() {
		if err := rec.Close(); err != nil {
			log.Error("writing records", "err", err)
		}
	}()
	rec.PeerID(PeerIDOf(id), id)
	b, err := newBackend(id, rec, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := b.Close(); err != nil {
			log.Warn("close", "err", err)
		}
	}()
	if err := Run(ctx, Config{NodeID: id, Start: start, Log: log, Recorder: rec}, p, b); err != nil {
		return fmt.Errorf("node%d: %w", id, err)
	}
	return nil
}
