package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/meshbus/meshbus/bench/interop/harness"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cfg := harness.Config{JSPeers: 4, GoNodes: 8, Topology: harness.TopologyFull, MeshTimeout: 8 * time.Second, Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05.000 ")+f+"\n", a...) }}
	cfg.Validate()
	node, _ := harness.CheckPrerequisites(cfg.PeerDir)
	cfg.NodePath = node
	// Build manually to inspect on failure.
	m, err := harness.NewMesh(ctx, cfg)
	fmt.Println("err", err)
	if m != nil {
		m.Close()
	}
	_ = os.Stdout
}
