// Package persist keeps the peer manager's store in a bbolt database, so that
// known peers, their failures and backoffs survive a restart. bbolt commits
// each write transaction atomically with copy-on-write pages and a
// double-buffered meta page, so a process killed mid-write leaves the file as
// of the last committed transaction.
//
// Damage never goes unnoticed: every record carries a CRC-32C of its key and
// body, and a record that fails it is dropped, deleted from the file and
// counted (DB.Dropped); damage to the file's structure (pages, meta pages,
// buckets, a zero-length file) fails Open with ErrCorruptStore naming the
// file.
package persist

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
)

// Sentinel errors of the persistence layer.
var (
	// ErrCorruptStore reports a database file that is not a valid peer
	// store (bad pages, bad checksums, undecodable records, wrong schema).
	ErrCorruptStore = errors.New("peermgr/persist: corrupt peer store")
	// ErrStoreLocked reports that another process (or another open handle)
	// holds the database file's lock past the open timeout.
	ErrStoreLocked = errors.New("peermgr/persist: peer store locked")
	// ErrClosed reports use of a closed DB.
	ErrClosed = errors.New("peermgr/persist: closed")
)

var (
	bucketMeta  = []byte("meta")
	bucketPeers = []byte("peers")
	keySchema   = []byte("schema")
)

// schemaVersion is stored under meta/schema: 2 is checksummed records; 1
// (bare records) is migrated on open.
const (
	schemaVersion = 2
	schemaLegacy  = 1
)

// Options tune Open.
type Options struct {
	// Timeout bounds the wait for the file lock; 0 means DefaultTimeout.
	Timeout time.Duration
	// ResetOnCorrupt moves a corrupt file aside (to path + ".corrupt") and
	// starts an empty store instead of failing with ErrCorruptStore.
	ResetOnCorrupt bool
}

// DefaultTimeout is the file-lock wait used when Options.Timeout is 0.
const DefaultTimeout = time.Second

// DB is an open peer store file. Its methods are safe for concurrent use
// (bbolt serialises writers).
type DB struct {
	db      *bolt.DB
	peers   []peerstore.Peer
	reset   bool
	dropped int
}

// Open opens (creating if needed) the peer store at path, verifies every page
// and record, and keeps the decoded peers for Loaded. A corrupt file yields an
// error wrapping ErrCorruptStore, or with ResetOnCorrupt an empty store (and
// Reset reports true); a locked file yields ErrStoreLocked after the timeout.
// Open never panics on a bad file.
func Open(path string, o Options) (*DB, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	d, err := open(path, o.Timeout)
	if err == nil || !errors.Is(err, ErrCorruptStore) || !o.ResetOnCorrupt {
		return d, err
	}
	if rerr := os.Rename(path, path+".corrupt"); rerr != nil {
		return nil, fmt.Errorf("%w (moving it aside failed: %v)", err, rerr)
	}
	d, err = open(path, o.Timeout)
	if d != nil {
		d.reset = true
	}
	return d, err
}

func open(path string, timeout time.Duration) (d *DB, err error) {
	if err := precheck(path); err != nil {
		return nil, err
	}
	var db *bolt.DB
	var file *os.File
	// A fault reading the mapped file becomes a panic recovered below
	// instead of killing the process.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			// bbolt panics on some malformed files (a page beyond the end of
			// a truncated file) while holding the file open and locked:
			// close it ourselves so the lock is released.
			if db != nil {
				_ = db.Close()
			} else if file != nil {
				_ = file.Close()
			}
			d, err = nil, fmt.Errorf("%w: %s: %v", ErrCorruptStore, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{
		Timeout: timeout,
		OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
			f, err := os.OpenFile(name, flag, perm)
			file = f
			return f, err
		},
	})
	if err != nil {
		return nil, classify(path, err)
	}
	peers, dropped, err := verifyAndLoad(db)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%w: %s", err, path)
	}
	return &DB{db: db, peers: peers, dropped: dropped}, nil
}

// classify maps bbolt's open errors onto the package sentinels.
func classify(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("%w: %s: %v", ErrStoreLocked, path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return fmt.Errorf("%w: %s: %v", ErrCorruptStore, path, err)
	}
	var perr *os.PathError
	if errors.As(err, &perr) {
		return fmt.Errorf("peermgr/persist: open %s: %w", path, err)
	}
	// Anything else bbolt reports while reading the file's pages (short
	// file, bad page size, bad mmap) means the content is not a database.
	return fmt.Errorf("%w: %s: %v", ErrCorruptStore, path, err)
}

// verifyAndLoad creates the buckets on a new file, checks the buckets and
// the schema of an existing one, migrates a legacy schema, and decodes every
// record (precheck has already walked the pages). Records failing their
// checksum are deleted and counted.
func verifyAndLoad(db *bolt.DB) (peers []peerstore.Peer, dropped int, err error) {
	err = db.Update(func(tx *bolt.Tx) error {
		var names []string
		if err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, string(name))
			return nil
		}); err != nil {
			return err
		}
		meta, b := tx.Bucket(bucketMeta), tx.Bucket(bucketPeers)
		switch {
		case len(names) == 0:
			// A new file.
			var err error
			if meta, err = tx.CreateBucket(bucketMeta); err != nil {
				return fmt.Errorf("%w: meta bucket: %v", ErrCorruptStore, err)
			}
			if err := meta.Put(keySchema, []byte{schemaVersion}); err != nil {
				return err
			}
			if _, err = tx.CreateBucket(bucketPeers); err != nil {
				return fmt.Errorf("%w: peers bucket: %v", ErrCorruptStore, err)
			}
			return nil
		case len(names) != 2 || meta == nil || b == nil:
			return fmt.Errorf("%w: buckets %q, want meta and peers", ErrCorruptStore, names)
		}
		v := meta.Get(keySchema)
		if len(v) != 1 || (v[0] != schemaVersion && v[0] != schemaLegacy) {
			return fmt.Errorf("%w: schema %x, want %d", ErrCorruptStore, v, schemaVersion)
		}
		legacy := v[0] == schemaLegacy
		var damaged [][]byte
		err := b.ForEach(func(k, v []byte) error {
			body := v
			if !legacy {
				var ok bool
				if body, ok = openRecord(k, v); !ok {
					damaged = append(damaged, append([]byte(nil), k...))
					return nil
				}
			}
			p, err := decodeRecord(body)
			if err == nil && string(k) != string(p.ID) {
				err = fmt.Errorf("key %x holds peer %s", k, p.ID)
			}
			if err != nil {
				// A legacy record has no checksum to tell damage from
				// data; a checksummed one that does not decode was
				// written so (not damaged): either way, report it.
				return fmt.Errorf("%w: key %x: %v", ErrCorruptStore, k, err)
			}
			peers = append(peers, p)
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range damaged {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		dropped = len(damaged)
		if legacy {
			var buf []byte
			for i := range peers {
				buf = sealRecord(buf[:0], []byte(peers[i].ID), &peers[i])
				if err := b.Put([]byte(peers[i].ID), append([]byte(nil), buf...)); err != nil {
					return err
				}
			}
			return meta.Put(keySchema, []byte{schemaVersion})
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return peers, dropped, nil
}

// Loaded returns the peers read at Open, in key order. Ownership passes to
// the caller; later calls return nil.
func (d *DB) Loaded() []peerstore.Peer {
	p := d.peers
	d.peers = nil
	return p
}

// Reset reports whether Open found the file corrupt and started empty.
func (d *DB) Reset() bool { return d.reset }

// Dropped reports how many damaged records (failing their checksum) Open
// found, deleted and left out of Loaded.
func (d *DB) Dropped() int { return d.dropped }

// Save writes upserts and deletes removed in one atomic transaction: after a
// crash the file holds either all of it or none of it.
func (d *DB) Save(upserts []peerstore.Peer, removed []peer.ID) error {
	if len(upserts) == 0 && len(removed) == 0 {
		return nil
	}
	var buf []byte
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPeers)
		for _, id := range removed {
			if err := b.Delete([]byte(id)); err != nil {
				return err
			}
		}
		for i := range upserts {
			buf = sealRecord(buf[:0], []byte(upserts[i].ID), &upserts[i])
			// bbolt keeps the value slice until commit: give it its own copy.
			if err := b.Put([]byte(upserts[i].ID), append([]byte(nil), buf...)); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	if err != nil {
		return fmt.Errorf("peermgr/persist: save: %w", err)
	}
	return nil
}

// Close closes the file; it is safe to call more than once.
func (d *DB) Close() error {
	return d.db.Close()
}
