package router

import (
	"crypto/rand"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
	"github.com/meshbus/meshbus/eventbus"
	"github.com/meshbus/meshbus/events"
)

// Copies of a message that arrive before the driver has accepted the first
// skip the signature check only when byte-identical to a copy that
// verified: a forgery reusing the id and signature is still checked and
// rejected.
func TestIdenticalCopiesSkipSignatureCheck(t *testing.T) {
	reg := prometheus.NewRegistry()
	bus := eventbus.New()
	t.Cleanup(func() { bus.Close() })
	r, err := New(newHost(t), bus, clock.NewMock(), WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	author, _ := peer.IDFromPrivateKey(key)
	m := &pb.Message{From: []byte(author), Seqno: wire.NewSeqno(7).Next(), Topic: proto.String("t"), Data: []byte("real")}
	if err := wire.Sign(m, key); err != nil {
		t.Fatal(err)
	}
	check := func(msg *pb.Message) events.RejectReason {
		in := netInput{rpc: &pb.RPC{Publish: []*pb.Message{msg}}}
		r.checkMessages(&in)
		return in.rejects[0]
	}
	checked := func() float64 { return counter(t, reg, "meshbus_router_signature_checks_total", "result", "checked") }
	skipped := func() float64 {
		return counter(t, reg, "meshbus_router_signature_checks_total", "result", "skipped_identical")
	}

	if got := check(m); got != 0 || checked() != 1 {
		t.Fatalf("first copy: reject %v, %v checks", got, checked())
	}
	if got := check(proto.Clone(m).(*pb.Message)); got != 0 || checked() != 1 || skipped() != 1 {
		t.Fatalf("identical copy: reject %v, %v checks, %v skipped", got, checked(), skipped())
	}
	forged := proto.Clone(m).(*pb.Message)
	forged.Data = []byte("forged") // same from, seqno (so the same id) and signature
	if got := check(forged); got != events.RejectInvalidSignature || checked() != 2 {
		t.Fatalf("forged copy: reject %v, %v checks; want invalid_signature after a check", got, checked())
	}
}
