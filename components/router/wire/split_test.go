package wire

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

func TestSplitFittingRPCIsReturnedAsIs(t *testing.T) {
	rpc := &pb.RPC{Publish: []*pb.Message{{Data: []byte("x")}}}
	parts, err := Split(rpc, 100)
	if err != nil || len(parts) != 1 || parts[0] != rpc {
		t.Fatalf("got %v, %v", parts, err)
	}
}

func TestSplitDistributesEverything(t *testing.T) {
	const max = 1000
	rpc := &pb.RPC{Control: &pb.ControlMessage{}}
	for i := range 30 {
		rpc.Subscriptions = append(rpc.Subscriptions, &pb.RPC_SubOpts{Subscribe: proto.Bool(true), Topicid: proto.String(fmt.Sprintf("topic-%02d", i))})
		rpc.Publish = append(rpc.Publish, &pb.Message{Data: make([]byte, 150), Seqno: []byte{byte(i)}, Topic: proto.String("t")})
		rpc.Control.Graft = append(rpc.Control.Graft, &pb.ControlGraft{TopicID: proto.String(fmt.Sprintf("g-%02d", i))})
		rpc.Control.Prune = append(rpc.Control.Prune, &pb.ControlPrune{TopicID: proto.String(fmt.Sprintf("p-%02d", i)), Backoff: proto.Uint64(60)})
		rpc.Control.Preamble = append(rpc.Control.Preamble, &pb.ControlPreamble{MessageID: fmt.Appendf(nil, "pre-%02d", i), MessageSize: proto.Uint64(65536), TopicID: proto.String("t")})
		rpc.Control.Imreceiving = append(rpc.Control.Imreceiving, &pb.ControlImReceiving{MessageID: fmt.Appendf(nil, "imr-%02d", i)})
	}
	var ids [][]byte
	for i := range 200 {
		ids = append(ids, fmt.Appendf(nil, "message-id-%04d", i))
	}
	rpc.Control.Ihave = []*pb.ControlIHave{{TopicID: proto.String("t"), MessageIDs: ids}}
	rpc.Control.Iwant = []*pb.ControlIWant{{MessageIDs: ids}}
	rpc.Control.Idontwant = []*pb.ControlIDontWant{{MessageIDs: ids}}

	parts, err := Split(rpc, max)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 2 {
		t.Fatalf("expected several parts, got %d", len(parts))
	}
	merged := &pb.RPC{Control: &pb.ControlMessage{}}
	var ihaveIDs, iwantIDs, idwIDs [][]byte
	for i, p := range parts {
		if n := proto.Size(p); n > max {
			t.Fatalf("part %d is %d bytes > %d", i, n, max)
		}
		merged.Subscriptions = append(merged.Subscriptions, p.Subscriptions...)
		merged.Publish = append(merged.Publish, p.Publish...)
		c := p.GetControl()
		merged.Control.Graft = append(merged.Control.Graft, c.GetGraft()...)
		merged.Control.Prune = append(merged.Control.Prune, c.GetPrune()...)
		merged.Control.Preamble = append(merged.Control.Preamble, c.GetPreamble()...)
		merged.Control.Imreceiving = append(merged.Control.Imreceiving, c.GetImreceiving()...)
		for _, ih := range c.GetIhave() {
			if ih.GetTopicID() != "t" {
				t.Fatalf("IHAVE piece lost its topic: %q", ih.GetTopicID())
			}
			ihaveIDs = append(ihaveIDs, ih.MessageIDs...)
		}
		for _, iw := range c.GetIwant() {
			iwantIDs = append(iwantIDs, iw.MessageIDs...)
		}
		for _, d := range c.GetIdontwant() {
			idwIDs = append(idwIDs, d.MessageIDs...)
		}
	}
	if !proto.Equal(&pb.RPC{Subscriptions: merged.Subscriptions, Publish: merged.Publish, Control: &pb.ControlMessage{Graft: merged.Control.Graft, Prune: merged.Control.Prune, Preamble: merged.Control.Preamble, Imreceiving: merged.Control.Imreceiving}},
		&pb.RPC{Subscriptions: rpc.Subscriptions, Publish: rpc.Publish, Control: &pb.ControlMessage{Graft: rpc.Control.Graft, Prune: rpc.Control.Prune, Preamble: rpc.Control.Preamble, Imreceiving: rpc.Control.Imreceiving}}) {
		t.Fatal("parts do not add up to the original, in order")
	}
	for name, got := range map[string][][]byte{"ihave": ihaveIDs, "iwant": iwantIDs, "idontwant": idwIDs} {
		if len(got) != len(ids) {
			t.Fatalf("%s: %d ids, want %d", name, len(got), len(ids))
		}
		for i := range ids {
			if string(got[i]) != string(ids[i]) {
				t.Fatalf("%s: id %d is %q", name, i, got[i])
			}
		}
	}
}

func TestSplitSingleMessageTooLarge(t *testing.T) {
	rpc := &pb.RPC{Publish: []*pb.Message{{Data: []byte("small")}, {Data: make([]byte, 2000)}}}
	parts, err := Split(rpc, 1000)
	if !errors.Is(err, ErrMessageTooLarge) || parts != nil {
		t.Fatalf("want ErrMessageTooLarge and no parts, got %v, %v", parts, err)
	}
}

func TestSplitPruneTooLarge(t *testing.T) {
	prune := &pb.ControlPrune{TopicID: proto.String("t")}
	for range 100 {
		prune.Peers = append(prune.Peers, &pb.PeerInfo{PeerID: make([]byte, 38)})
	}
	_, err := Split(&pb.RPC{Control: &pb.ControlMessage{Prune: []*pb.ControlPrune{prune}}}, 1000)
	if !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("want ErrEntryTooLarge, got %v", err)
	}
}

func TestSplitMessageExactlyAtLimit(t *testing.T) {
	m := &pb.Message{Data: make([]byte, 990)}
	max := fieldSize(proto.Size(m))
	rpc := &pb.RPC{Publish: []*pb.Message{m, m}}
	parts, err := Split(rpc, max)
	if err != nil || len(parts) != 2 {
		t.Fatalf("got %d parts, %v", len(parts), err)
	}
	for _, p := range parts {
		if proto.Size(p) != max {
			t.Fatalf("part is %d bytes, want %d", proto.Size(p), max)
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	rpc := &pb.RPC{}
	for range 100 {
		rpc.Publish = append(rpc.Publish, &pb.Message{Data: make([]byte, 1024), Topic: proto.String("t")})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(rpc, 16*1024); err != nil {
			b.Fatal(err)
		}
	}
}

// The v1.3 Extensions control message stays first and alone, and the
// partial-messages RPC travels whole and last, when an RPC is split.
func TestSplitKeepsExtensionsFirstAndPartialWhole(t *testing.T) {
	ext := &pb.ControlExtensions{PartialMessages: proto.Bool(true)}
	part := &pb.PartialMessagesExtension{TopicID: proto.String("t"), GroupID: []byte("g"), PartialMessage: make([]byte, 300)}
	rpc := &pb.RPC{Control: &pb.ControlMessage{Extensions: ext}, Partial: part}
	for i := range 20 {
		rpc.Publish = append(rpc.Publish, &pb.Message{Topic: proto.String("t"), Data: make([]byte, 100+i)})
	}
	parts, err := Split(rpc, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) < 3 || parts[0].GetControl().GetExtensions() != ext || len(parts[0].Publish) != 0 {
		t.Fatalf("first part %v", parts[0])
	}
	last := parts[len(parts)-1]
	if last.Partial != part || len(last.Publish) != 0 {
		t.Fatalf("last part %v", last)
	}
	n := 0
	for _, p := range parts {
		if proto.Size(p) > 1024 {
			t.Fatalf("part of %d bytes", proto.Size(p))
		}
		n += len(p.Publish)
		if p != parts[0] && p.GetControl().GetExtensions() != nil {
			t.Fatal("extensions twice")
		}
	}
	if n != 20 {
		t.Fatalf("%d messages", n)
	}
	rpc.Partial = &pb.PartialMessagesExtension{PartialMessage: make([]byte, 2000)}
	if _, err := Split(rpc, 1024); !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("oversized partial: %v", err)
	}
}

// Fragments (gossipsub v1.4) survive a split, in order, after the messages,
// and each part fits.
func TestSplitCarriesFragments(t *testing.T) {
	const max = 1000
	topic := "t"
	rpc := &pb.RPC{Publish: []*pb.Message{{Data: make([]byte, 300), Topic: &topic}}}
	for i := range 10 {
		rpc.LargeMessageFragments = append(rpc.LargeMessageFragments, &pb.LargeMessageFragment{
			MessageID: []byte("id"), FragmentIndex: proto.Uint32(uint32(i)), TotalFragments: proto.Uint32(10),
			FragmentData: make([]byte, 200), TopicID: &topic,
		})
	}
	parts, err := Split(rpc, max)
	if err != nil {
		t.Fatal(err)
	}
	var msgs int
	var got []uint32
	for i, p := range parts {
		if n := proto.Size(p); n > max {
			t.Fatalf("part %d is %d bytes > %d", i, n, max)
		}
		msgs += len(p.Publish)
		for _, f := range p.LargeMessageFragments {
			got = append(got, f.GetFragmentIndex())
		}
	}
	if msgs != 1 || len(got) != 10 {
		t.Fatalf("parts carry %d messages and %d fragments, want 1 and 10", msgs, len(got))
	}
	for i, idx := range got {
		if idx != uint32(i) {
			t.Fatalf("fragment order %v", got)
		}
	}
	big := &pb.RPC{LargeMessageFragments: []*pb.LargeMessageFragment{{MessageID: []byte("id"), FragmentData: make([]byte, 2*max)}}}
	if _, err := Split(big, max); !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("oversized fragment: %v, want ErrEntryTooLarge", err)
	}
}

// meshbus's choke extension RPC survives a split whole, in a part of its
// own after everything else, and one too large for any part is an error.
func TestSplitKeepsChokeWhole(t *testing.T) {
	choke := &pb.ChokeExtension{ChokeTopics: []string{"a", "b"}, UnchokeTopics: []string{"c"}}
	rpc := &pb.RPC{Choke: choke}
	for i := range 20 {
		rpc.Publish = append(rpc.Publish, &pb.Message{Topic: proto.String("t"), Data: make([]byte, 100+i)})
	}
	parts, err := Split(rpc, 1024)
	if err != nil {
		t.Fatal(err)
	}
	last := parts[len(parts)-1]
	if last.Choke != choke || len(last.Publish) != 0 {
		t.Fatalf("last part %v", last)
	}
	n := 0
	for _, p := range parts {
		if proto.Size(p) > 1024 {
			t.Fatalf("part of %d bytes", proto.Size(p))
		}
		if p != last && p.Choke != nil {
			t.Fatal("choke twice")
		}
		n += len(p.Publish)
	}
	if n != 20 {
		t.Fatalf("%d messages", n)
	}
	rpc.Choke = &pb.ChokeExtension{ChokeTopics: []string{string(make([]byte, 2000))}}
	if _, err := Split(rpc, 1024); !errors.Is(err, ErrEntryTooLarge) {
		t.Fatalf("oversized choke: %v", err)
	}
}
