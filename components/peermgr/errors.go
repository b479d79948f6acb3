package peermgr

import (
	"errors"

	"github.com/meshbus/meshbus/components/peermgr/persist"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrBadOption wraps every invalid option value; the message names it.
	ErrBadOption = errors.New("peermgr: bad option")
	// ErrClosed reports use of a closed Manager.
	ErrClosed = errors.New("peermgr: closed")
	// ErrStarted reports a second Start.
	ErrStarted = errors.New("peermgr: already started")
	// ErrCorruptStore reports a damaged database file, naming it (see
	// WithResetOnCorrupt).
	ErrCorruptStore = persist.ErrCorruptStore
	// ErrStoreLocked reports a database file locked past the open timeout.
	ErrStoreLocked = persist.ErrStoreLocked

	// ErrInvalidPeer reports an empty or malformed peer id.
	ErrInvalidPeer = errors.New("peermgr: invalid peer id")
	// ErrSelf reports an attempt to add the local peer.
	ErrSelf = errors.New("peermgr: peer is the local node")
	// ErrNoAddresses reports a peer given without any address.
	ErrNoAddresses = errors.New("peermgr: no addresses")
	// ErrInvalidSource reports an unknown events.PeerSource.
	ErrInvalidSource = errors.New("peermgr: invalid peer source")
	// ErrUnknownPeer reports a peer that is not in the store.
	ErrUnknownPeer = errors.New("peermgr: unknown peer")
	// ErrNoPeer reports that no peer serves a protocol.
	ErrNoPeer = errors.New("peermgr: no peer for protocol")
	// ErrInvalidProtocol reports an empty or non-UTF-8 protocol id.
	ErrInvalidProtocol = errors.New("peermgr: invalid protocol id")
)
