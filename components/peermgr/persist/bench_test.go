package persist

import (
	"path/filepath"
	"testing"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
)

func BenchmarkEncodeRecord(b *testing.B) {
	p := testPeer(b, 7)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = encodeRecord(buf[:0], &p)
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	p := testPeer(b, 7)
	raw := encodeRecord(nil, &p)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeRecord(raw); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSave100 measures one flush of 100 changed peers (one fsync'd
// transaction).
func BenchmarkSave100(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ps := make([]peerstore.Peer, 100)
	for i := range ps {
		ps[i] = testPeer(b, i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := db.Save(ps, nil); err != nil {
			b.Fatal(err)
		}
	}
}
