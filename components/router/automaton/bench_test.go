package automaton

import (
	"encoding/binary"
	"testing"

	"github.com/meshbus/meshbus/components/router/pb"
)

// BenchmarkReceiveValidateForward is the message hot path: a new message
// from a mesh peer, validated and forwarded to the rest of a 20-peer topic.
func BenchmarkReceiveValidateForward(b *testing.B) { benchForward(b, 256) }

// BenchmarkReceiveValidateForwardIDontWant is the same with 2 KiB of data,
// over IDontWantThreshold: each message also sends IDONTWANT to the mesh.
func BenchmarkReceiveValidateForwardIDontWant(b *testing.B) { benchForward(b, 2048) }

func benchForward(b *testing.B, size int) {
	h := newHarness(b, nil)
	ps := h.addN(1, 20, topicA)
	h.join(topicA)
	src := ps[0]
	topic := topicA
	data := make([]byte, size)
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		m := &pb.Message{From: []byte(src), Seqno: binary.BigEndian.AppendUint64(nil, seq), Topic: &topic, Data: data}
		id := string(src) + string(m.Seqno)
		h.out.Reset()
		if o := h.a.HandleMessage(h.now, src, m, id, true, &h.out); o != OutcomeNeedsValidation {
			b.Fatal(o)
		}
		if o := h.a.Validated(h.now, id, ValidationAccept, &h.out); o != OutcomeDelivered {
			b.Fatal(o)
		}
		if seq%1000 == 0 {
			h.heartbeat() // keep the caches at their steady-state size
		}
	}
}

// BenchmarkDuplicate is the cheapest and most frequent receive path.
func BenchmarkDuplicate(b *testing.B) {
	h := newHarness(b, nil)
	ps := h.addN(1, 20, topicA)
	h.join(topicA)
	m, id := msg(ps[0], topicA, 256)
	h.a.HandleMessage(h.now, ps[0], m, id, true, &h.out)
	h.a.Validated(h.now, id, ValidationAccept, &h.out)
	b.ReportAllocs()
	for b.Loop() {
		h.out.Reset()
		h.a.HandleMessage(h.now, ps[1], m, id, true, &h.out)
	}
}

// BenchmarkHeartbeat: 100 peers in each of 3 topics, 20 new messages per
// topic per heartbeat (published with the timer stopped).
func BenchmarkHeartbeat(b *testing.B) {
	h := newHarness(b, nil)
	topics := []string{"t1", "t2", "t3"}
	for i, tp := range topics {
		h.addN(1+i*100, 100, tp)
		h.join(tp)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for _, tp := range topics {
			for range 20 {
				m, id := msg(pid(0), tp, 64)
				h.a.Publish(h.now, m, id, &h.out)
			}
		}
		h.out.Reset()
		b.StartTimer()
		h.heartbeat()
		h.out.Reset()
	}
}
