// Command interop runs meshbus GossipSub routers and js-libp2p nodes with
// @chainsafe/libp2p-gossipsub in one mesh on loopback and prints a report:
// the nodes and links, the delivery ratio per (publisher, receiver)
// implementation pair, duplicates, rejections, the pubsub protocol each side
// negotiated, grafts, and whether both computed the same message ids.
//
//	go run ./interop/js                 # 2 js + 3 meshbus nodes, 50 messages
//	go run ./interop/js -js 4 -go 8 -messages 500 -topology full
//
// The first run installs the JS peer's pinned dependencies (npm ci) into
// the user cache directory, outside the source tree (see -peer-dir).
//
// It exits 0 when every message reached every node exactly once, 1 when
// interop failed or the run could not be carried out, 2 for bad flags.
// The same checks run in go test ./interop/js/... (package harness).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/meshbus/meshbus/interop/js/harness"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run is main with its arguments and outputs injected; it returns the exit
// code.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("interop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		jsN      = fs.Int("js", 2, "js-libp2p peers")
		goN      = fs.Int("go", 3, "meshbus nodes")
		messages = fs.Int("messages", 50, "messages to publish, from both kinds")
		seed     = fs.Uint64("seed", 1, "seed of publisher choice, payloads and router randomness")
		assembly = fs.String("assembly", string(harness.AssemblyHost), "meshbus nodes: host (host.New, every built-in component) or router (the router alone)")
		topology = fs.String("topology", string(harness.TopologyRing), "ring (ring plus chords, relays needed) or full (every pair linked, gossip needed)")
		sparse   = fs.Bool("sparse", false, "mesh degree 1 on every node: most messages travel by gossip (IHAVE/IWANT)")
		msgid    = fs.String("msgid", string(harness.MsgIDSpec), "JS message id function: spec (from||seqno) or js-default (protobuf key||seqno)")
		jsProtos = fs.String("js-protocols", "", "comma-separated pubsub protocols the JS peers speak (default the library's: meshsub 1.2.0, 1.1.0, 1.0.0)")
		minSize  = fs.Int("min-size", 16, "smallest payload, bytes")
		maxSize  = fs.Int("max-size", 2048, "largest payload, bytes")
		large    = fs.Int("large", 200<<10, "size of the third message, bytes (0: like the others)")
		timeout  = fs.Duration("timeout", 2*time.Minute, "bound on the whole run; the JS processes are killed after it")
		peerDir  = fs.String("peer-dir", harness.DefaultPeerDir(), "directory the JS peer runs from (peer.mjs and node_modules); installed there on first use unless $"+harness.PeerDirEnv+" names it")
		verbose  = fs.Bool("v", false, "print progress and the meshbus routers' warnings to stderr")
	)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "interop: unexpected arguments %v\n", fs.Args())
		return 2
	}
	cfg := harness.Config{
		JSPeers: *jsN, GoNodes: *goN, Messages: *messages, Seed: *seed,
		Assembly: harness.Assembly(*assembly), Sparse: *sparse, Topology: harness.Topology(*topology), MsgID: harness.MsgIDMode(*msgid), MinPayload: *minSize, MaxPayload: *maxSize, LargeMessage: *large,
		PeerDir: *peerDir,
	}
	if *jsProtos != "" {
		cfg.JSProtocols = strings.Split(*jsProtos, ",")
	}
	if *verbose {
		cfg.Logf = func(format string, a ...any) {
			fmt.Fprintf(stderr, time.Now().Format("15:04:05.000 ")+format+"\n", a...)
		}
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "interop: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := harness.Prepare(ctx, cfg.PeerDir); err != nil {
		fmt.Fprintf(stderr, "interop: %v\n", err)
		return 1
	}
	res, err := harness.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "interop: %v\n", err)
		return 1
	}
	if err := res.WriteReport(stdout); err != nil {
		fmt.Fprintf(stderr, "interop: %v\n", err)
		return 1
	}
	if res.Err() != nil {
		return 1
	}
	return 0
}
