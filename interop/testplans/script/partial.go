package script

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"sync"
)

// The plans' partial message (the partial-message scenarios): a group,
// named by a uint64 written big-endian as its 8-byte group id, has 8 parts
// of PartLen bytes. Part i is 128 big-endian uint64s counting up from
// groupID + i*128. Its parts metadata is one byte, the bitmap of parts
// held (bit i: part i). An encoded partial message is one bitmap byte
// naming the parts it carries, those parts in increasing bit order, then the
// 8-byte group id.
const (
	// PartLen is the size of one part.
	PartLen = 1024
	// NumParts is the number of parts of a group.
	NumParts = 8
	// AllParts is the bitmap of a complete group.
	AllParts = byte(1<<NumParts - 1)
)

// ErrBadPartial reports an encoded partial message or parts metadata that does
// not follow the plans' encoding.
var ErrBadPartial = errors.New("bad partial message")

// GroupIDBytes returns the 8-byte group id of group gid.
func GroupIDBytes(gid uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, gid)
}

// PartContent returns part i of group gid as the plans define it.
func PartContent(gid uint64, i int) []byte {
	b := make([]byte, PartLen)
	c := gid + uint64(i)*PartLen/8
	for j := 0; j < PartLen/8; j++ {
		binary.BigEndian.PutUint64(b[j*8:], c)
		c++
	}
	return b
}

// PartialGroup is one group's parts held by a node. It is safe for
// concurrent use (a router calls it on its own goroutine while the script
// adds parts).
type PartialGroup struct {
	mu    sync.Mutex
	gid   [8]byte
	parts [NumParts][]byte
	have  byte
}

// NewPartialGroup returns group gid with no parts.
func NewPartialGroup(gid uint64) *PartialGroup {
	g := &PartialGroup{}
	binary.BigEndian.PutUint64(g.gid[:], gid)
	return g
}

// GroupID returns the group's number.
func (g *PartialGroup) GroupID() uint64 { return binary.BigEndian.Uint64(g.gid[:]) }

// Fill adds the parts of bitmap (the script's addPartialMessage) with
// their defined content. It returns true if the group became complete by
// this call.
func (g *PartialGroup) Fill(bitmap byte) (completed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	before := g.have
	for i := range NumParts {
		if bitmap&(1<<i) != 0 && g.have&(1<<i) == 0 {
			g.parts[i] = PartContent(g.GroupID(), i)
			g.have |= 1 << i
		}
	}
	return before != AllParts && g.have == AllParts
}

// Have returns the bitmap of parts held (the group's parts metadata).
func (g *PartialGroup) Have() byte {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.have
}

// Complete reports whether every part is held.
func (g *PartialGroup) Complete() bool { return g.Have() == AllParts }

// Encode returns the encoded partial message carrying the parts held that
// a peer holding peerHas lacks, and the bitmap of those parts; nil and 0
// when there are none.
func (g *PartialGroup) Encode(peerHas byte) (encoded []byte, sent byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	sent = g.have &^ peerHas
	if sent == 0 {
		return nil, 0
	}
	out := make([]byte, 1, 1+PartLen*bits.OnesCount8(sent)+len(g.gid))
	out[0] = sent
	for i := range NumParts {
		if sent&(1<<i) != 0 {
			out = append(out, g.parts[i]...)
		}
	}
	return append(out, g.gid[:]...), sent
}

// Extend merges an encoded partial message. It checks the whole encoding
// first (group id, one PartLen part per bit of the bitmap, nothing more)
// and refuses a malformed one with an error wrapping ErrBadPartial,
// changing nothing. It returns the bitmap of parts it added (parts already
// held are skipped) and whether the group became complete by this call.
func (g *PartialGroup) Extend(data []byte) (added byte, completed bool, err error) {
	if len(data) < 1+len(g.gid) {
		return 0, false, fmt.Errorf("%w: %d bytes, shorter than a bitmap and a group id", ErrBadPartial, len(data))
	}
	bitmap := data[0]
	body, gid := data[1:len(data)-len(g.gid)], data[len(data)-len(g.gid):]
	if string(gid) != string(g.gid[:]) {
		return 0, false, fmt.Errorf("%w: group id %x in a message of group %x", ErrBadPartial, gid, g.gid)
	}
	if bitmap == 0 {
		return 0, false, fmt.Errorf("%w: empty parts bitmap", ErrBadPartial)
	}
	if want := PartLen * bits.OnesCount8(bitmap); len(body) != want {
		return 0, false, fmt.Errorf("%w: %d bytes of parts for bitmap %08b, want %d", ErrBadPartial, len(body), bitmap, want)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	before := g.have
	for i := range NumParts {
		if bitmap&(1<<i) == 0 {
			continue
		}
		part := body[:PartLen]
		body = body[PartLen:]
		if g.have&(1<<i) == 0 {
			g.parts[i] = append([]byte(nil), part...)
			g.have |= 1 << i
			added |= 1 << i
		}
	}
	return added, before != AllParts && g.have == AllParts, nil
}

// ParseMetadata reads parts metadata: exactly one byte, the bitmap.
func ParseMetadata(meta []byte) (byte, error) {
	if len(meta) != 1 {
		return 0, fmt.Errorf("%w: parts metadata of %d bytes, want 1", ErrBadPartial, len(meta))
	}
	return meta[0], nil
}

// PartialGroups holds a node's groups by topic and group id. It is safe
// for concurrent use.
type PartialGroups struct {
	mu sync.Mutex
	m  map[partialKey]*PartialGroup
}

type partialKey struct {
	topic string
	gid   uint64
}

// Get returns the group gid of topic, creating it empty if absent; created
// reports whether it did.
func (s *PartialGroups) Get(topic string, gid uint64) (g *PartialGroup, created bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[partialKey]*PartialGroup)
	}
	k := partialKey{topic, gid}
	if g = s.m[k]; g == nil {
		g, created = NewPartialGroup(gid), true
		s.m[k] = g
	}
	return g, created
}

// Lookup returns the group gid of topic, or nil.
func (s *PartialGroups) Lookup(topic string, gid uint64) *PartialGroup {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[partialKey{topic, gid}]
}

// ParseGroupID reads an 8-byte group id.
func ParseGroupID(b []byte) (uint64, error) {
	if len(b) != 8 {
		return 0, fmt.Errorf("%w: group id of %d bytes, want 8", ErrBadPartial, len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}
