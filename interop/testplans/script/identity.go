package script

import (
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Port is the TCP port every node listens on.
const Port = 9000

// DialTimeout bounds one dial, handshakes included, in both node binaries.
// go-libp2p bounds a dial to a private address (every node address in the
// plans and in the runner) to 5 s by default; with 64 node processes
// starting on a 2-core machine the security handshake alone took longer
// ("failed to negotiate security protocol: context deadline exceeded"), and
// every retry cost another handshake's CPU. A dial that fails outright
// (connection refused) still fails at once.
const DialTimeout = 20 * time.Second

// NodeIDFromHostname parses a host name of the form nodeN (N a decimal
// integer, 0 or more) into N.
func NodeIDFromHostname(name string) (int, error) {
	const prefix = "node"
	if len(name) <= len(prefix) || name[:len(prefix)] != prefix {
		return 0, fmt.Errorf("%w: %q", ErrBadHostname, name)
	}
	n, err := strconv.Atoi(name[len(prefix):])
	if err != nil || n < 0 || strconv.Itoa(n) != name[len(prefix):] {
		return 0, fmt.Errorf("%w: %q", ErrBadHostname, name)
	}
	return n, nil
}

// NodeID returns the node id from this machine's host name.
func NodeID() (int, error) {
	name, err := os.Hostname()
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrBadHostname, err)
	}
	return NodeIDFromHostname(name)
}

// NodeKey returns node id's ed25519 key as the plans define it: the seed is
// 32 bytes, the node id little-endian in its first four, zero elsewhere.
func NodeKey(id int) crypto.PrivKey {
	var seed [ed25519.SeedSize]byte
	binary.LittleEndian.PutUint32(seed[:4], uint32(int32(id)))
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(seed[:]))
	if err != nil {
		// A 64-byte ed25519 key always unmarshals; anything else is a bug.
		panic(fmt.Sprintf("script: ed25519 key of node %d: %v", id, err))
	}
	return k
}

// PeerIDOf returns the peer id of node id.
func PeerIDOf(id int) peer.ID {
	p, err := peer.IDFromPrivateKey(NodeKey(id))
	if err != nil {
		panic(fmt.Sprintf("script: peer id of node %d: %v", id, err))
	}
	return p
}

// MsgID is the plans' message id: the first 8 bytes of data, raw (shorter
// data is zero-padded to 8 bytes). Both ends of a network must use it so that
// IHAVE, IWANT and IDONTWANT name the same messages.
func MsgID(data []byte) string {
	var b [8]byte
	copy(b[:], data)
	return string(b[:])
}

// FormatID renders a message id as the plans log it: the 8 bytes read as a
// big-endian unsigned integer, in decimal. A malformed id is rendered as
// its hex bytes prefixed with "x".
func FormatID(id string) string {
	if len(id) != 8 {
		return fmt.Sprintf("x%x", id)
	}
	return strconv.FormatUint(binary.BigEndian.Uint64([]byte(id)), 10)
}

// MessageData returns a message of size bytes (at least 8) whose first 8
// bytes are id, big-endian, the rest zero.
func MessageData(id uint64, size int) []byte {
	if size < 8 {
		size = 8
	}
	b := make([]byte, size)
	binary.BigEndian.PutUint64(b, id)
	return b
}
