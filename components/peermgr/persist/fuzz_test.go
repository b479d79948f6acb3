package persist

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
)

// FuzzDecodeRecord: any input decodes or fails with ErrBadRecord, never
// panics, and whatever decodes re-encodes to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	for i := range 4 {
		p := testPeer(f, i)
		f.Add(encodeRecord(nil, &p))
	}
	f.Add([]byte{})
	f.Add([]byte{recordVersion})
	f.Add([]byte{recordVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrBadRecord) {
				t.Fatalf("error %v does not wrap ErrBadRecord", err)
			}
			return
		}
		again := encodeRecord(nil, &p)
		if !bytes.Equal(again, b) {
			// Varints have one canonical form only when minimal; accept
			// non-minimal input as long as it decodes to the same peer.
			q, err := decodeRecord(again)
			if err != nil {
				t.Fatalf("re-encoded record does not decode: %v", err)
			}
			if err := equalPeer(p, q); err != nil {
				t.Fatalf("round trip changed the peer: %v", err)
			}
		}
	})
}

// FuzzOpen: any file content opens, or fails with ErrCorruptStore, never
// panics, and never leaves the file locked.
func FuzzOpen(f *testing.F) {
	dir := f.TempDir()
	valid := filepath.Join(dir, "valid.db")
	db, err := Open(valid, Options{})
	if err != nil {
		f.Fatal(err)
	}
	var ps []peerstore.Peer
	for i := range 30 {
		ps = append(ps, testPeer(f, i))
	}
	if err := db.Save(ps, nil); err != nil {
		f.Fatal(err)
	}
	db.Close()
	raw, err := os.ReadFile(valid)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)/2])
	f.Add(raw[:4096*3])
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, content []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.db")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{Timeout: 100e6})
		if err != nil {
			if !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("err = %v, want ErrCorruptStore", err)
			}
		} else {
			db.Close()
		}
		// Whatever happened, the lock must be free again.
		db, err = Open(path, Options{Timeout: 100e6, ResetOnCorrupt: true})
		if err != nil {
			t.Fatalf("reopen with reset: %v", err)
		}
		db.Close()
	})
}
