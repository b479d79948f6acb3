// Package persist keeps the peer manager's store in a bbolt database, so that
// known peers, their failures and backoffs survive a restart. bbolt commits
// each write transaction atomically with copy-on-write pages and a
// double-buffered meta page, so a process killed mid-write leaves the file as
// of the last committed transaction.
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

// schemaVersion is stored under meta/schema.
const schemaVersion = 1

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
	db    *bolt.DB
	peers []peerstore.Peer
	reset bool
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
	peers, err := verifyAndLoad(db)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return &DB{db: db, peers: peers}, nil
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

// verifyAndLoad creates the buckets on a new file, checks the schema, and
// decodes every record (precheck has already walked the pages).
func verifyAndLoad(db *bolt.DB) ([]peerstore.Peer, error) {
	var peers []peerstore.Peer
	err := db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return fmt.Errorf("%w: meta bucket: %v", ErrCorruptStore, err)
		}
		if v := meta.Get(keySchema); v == nil {
			if err := meta.Put(keySchema, []byte{schemaVersion}); err != nil {
				return err
			}
		} else if len(v) != 1 || v[0] != schemaVersion {
			return fmt.Errorf("%w: schema %x, want %d", ErrCorruptStore, v, schemaVersion)
		}
		b, err := tx.CreateBucketIfNotExists(bucketPeers)
		if err != nil {
			return fmt.Errorf("%w: peers bucket: %v", ErrCorruptStore, err)
		}
		return b.ForEach(func(k, v []byte) error {
			p, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("%w: key %x: %v", ErrCorruptStore, k, err)
			}
			if string(k) != string(p.ID) {
				return fmt.Errorf("%w: key %x holds peer %s", ErrCorruptStore, k, p.ID)
			}
			peers = append(peers, p)
			return nil
		})
	})
	return peers, err
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
			buf = encodeRecord(buf[:0], &upserts[i])
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
