package main

import (
	"errors"
	"io"
	"testing"

	"go.uber.org/goleak"

	"github.com/meshbus/meshbus/internal/p2phost"
	"github.com/meshbus/meshbus/internal/testhost"
	"github.com/meshbus/meshbus/interop/testplans/script"
	"github.com/meshbus/meshbus/interop/testplans/script/scripttest"
)

// A node whose listen address is taken fails with the listen error and
// leaves no goroutine behind: go-libp2p's libp2p.New, listening itself,
// would return the error with its resource manager's, connection
// manager's and swarm's goroutines still running (go-libp2p v0.52.0).
func TestListenFailureLeaksNothing(t *testing.T) {
	scripttest.SetListenAddr(t, &listenAddr, testhost.TakenPort(t))
	rec := script.NewRecorder(io.Discard)
	defer rec.Close()
	before := goleak.IgnoreCurrent()
	b, err := newNode(0, rec, discardLog())
	if err == nil {
		_ = b.Close()
		t.Fatalf("a node listening on %s, a port already taken, started", listenAddr)
	}
	if !errors.Is(err, p2phost.ErrListen) {
		t.Fatalf("newNode: %v; want p2phost.ErrListen", err)
	}
	goleak.VerifyNone(t, before)
}
