package persist

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
)

// damageStats counts what opening damaged copies of one valid store gave.
type damageStats struct {
	total, corrupt, intact, dropped, silent int
}

// openDamaged flips bytes in copies of a store of 30 peers (seeded) and
// classifies each open: reported corrupt, opened intact, opened with some
// records dropped and counted, or opened with changed or missing data that
// nothing reported (silent).
func openDamaged(t *testing.T, seed int64, copies int, dropped func(*DB) int) damageStats {
	t.Helper()
	dir := t.TempDir()
	valid := filepath.Join(dir, "valid.db")
	db, err := Open(valid, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := make(map[string]peerstore.Peer)
	var ps []peerstore.Peer
	for i := range 30 {
		p := testPeer(t, i)
		ps = append(ps, p)
		want[string(p.ID)] = p
	}
	if err := db.Save(ps, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := os.ReadFile(valid)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(seed))
	var st damageStats
	for it := range copies {
		damaged := append([]byte(nil), raw...)
		changed := false
		for range 1 + rng.Intn(8) {
			i := rng.Intn(len(damaged))
			b := byte(rng.Intn(256))
			changed = changed || damaged[i] != b
			damaged[i] = b
		}
		if !changed {
			continue
		}
		st.total++
		path := filepath.Join(dir, fmt.Sprintf("damaged-%d.db", it))
		if err := os.WriteFile(path, damaged, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(path, Options{Timeout: 100 * time.Millisecond})
		if err != nil {
			if !errors.Is(err, ErrCorruptStore) {
				t.Fatalf("copy %d: err = %v, want nil or ErrCorruptStore", it, err)
			}
			st.corrupt++
			continue
		}
		got := db.Loaded()
		drop := dropped(db)
		db.Close()
		bad := 0
		for _, p := range got {
			w, ok := want[string(p.ID)]
			if !ok || equalPeer(p, w) != nil {
				bad++
			}
		}
		switch {
		case bad == 0 && len(got) == len(want):
			st.intact++
		case bad == 0 && len(got)+drop == len(want):
			st.dropped++
		default:
			st.silent++
		}
	}
	return st
}

// TestDamageIsNeverSilent flips bytes in copies of a store: every copy
// either fails with ErrCorruptStore, opens intact, or opens with the
// damaged records dropped and counted; none opens with changed data.
func TestDamageIsNeverSilent(t *testing.T) {
	st := openDamaged(t, 7, 300, func(d *DB) int { return d.Dropped() })
	t.Logf("%d damaged copies: %d reported corrupt, %d intact, %d with records dropped and counted, %d silently changed",
		st.total, st.corrupt, st.intact, st.dropped, st.silent)
	if st.silent != 0 {
		t.Fatalf("%d of %d damaged copies opened with changed data", st.silent, st.total)
	}
}

// TestZeroLengthFileIsCorrupt: an existing empty file (a crash between
// creating and initialising it, or a truncation) is reported, naming the
// file, instead of opening as an empty store.
func TestZeroLengthFileIsCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrCorruptStore) {
		t.Fatalf("err = %v, want ErrCorruptStore", err)
	}
	if want := path; !containsStr(err.Error(), want) {
		t.Fatalf("error %q does not name the file %s", err, want)
	}
	db, err := Open(path, Options{ResetOnCorrupt: true})
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	defer db.Close()
	if !db.Reset() {
		t.Fatal("Reset() = false after a zero-length file")
	}
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Fatalf("the empty file was not moved aside: %v", err)
	}
}

func containsStr(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// TestRecordFailingChecksumIsDroppedAndCounted: one flipped byte inside a
// record's value drops that record (deleted from the file, counted), keeps
// the others, and the next open is clean.
func TestRecordFailingChecksumIsDroppedAndCounted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "peers.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Save([]peerstore.Peer{testPeer(t, 1), testPeer(t, 2), testPeer(t, 3)}, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Flip one byte of peer 2's first address (its bytes are unique in the file).
	p2 := testPeer(t, 2)
	needle := p2.Addrs[0].Bytes()
	i := indexOf(raw, needle)
	if i < 0 {
		t.Fatal("record of peer 2 not found in the file")
	}
	raw[i+len(needle)-1] ^= 0x01
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := db.Loaded()
	if db.Dropped() != 1 || len(got) != 2 {
		t.Fatalf("dropped %d, loaded %d peers; want 1 and 2", db.Dropped(), len(got))
	}
	for _, p := range got {
		if p.ID == p2.ID {
			t.Fatal("the damaged record was loaded")
		}
	}
	db.Close()
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dropped() != 0 || len(db.Loaded()) != 2 {
		t.Fatalf("second open: dropped %d; the damaged record was not deleted", db.Dropped())
	}
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}
