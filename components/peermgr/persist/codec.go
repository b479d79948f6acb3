package persist

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/meshbus/meshbus/components/peermgr/peerstore"
	"github.com/meshbus/meshbus/events"
)

// ErrBadRecord reports a stored peer record that cannot be decoded.
var ErrBadRecord = errors.New("peermgr/persist: bad peer record")

// recordVersion is the first byte of every encoded record.
const recordVersion = 1

// Decoder limits: a record beyond them is corrupt, not merely large.
const (
	maxAddrs    = 1024
	maxProtos   = 1024
	maxFieldLen = 4096
	maxRecord   = 1 << 20
)

// Presence bits for the optional times and the boolean fields.
const (
	flagLastFailure = 1 << iota
	flagBackoffUntil
	flagLastDisconnect
	flagAddedAt
	flagIdentified
	flagGraylisted
)

// encodeRecord appends the binary form of p to dst. Connection state is not
// encoded: it never survives a restart.
//
// Layout (version 1): version byte, id, addrs, protocols (each a uvarint
// count of uvarint-length-prefixed byte strings, the id a single one),
// source byte, uvarint failures, flags byte, then the present times as
// varint Unix nanoseconds in flag order.
func encodeRecord(dst []byte, p *peerstore.Peer) []byte {
	dst = append(dst, recordVersion)
	dst = appendBytes(dst, []byte(p.ID))
	dst = binary.AppendUvarint(dst, uint64(len(p.Addrs)))
	for _, a := range p.Addrs {
		dst = appendBytes(dst, a.Bytes())
	}
	dst = binary.AppendUvarint(dst, uint64(len(p.Protocols)))
	for _, pr := range p.Protocols {
		dst = binary.AppendUvarint(dst, uint64(len(pr)))
		dst = append(dst, pr...)
	}
	dst = append(dst, byte(p.Source))
	dst = binary.AppendUvarint(dst, uint64(max(p.Failures, 0)))
	var flags byte
	times := [4]time.Time{p.LastFailure, p.BackoffUntil, p.LastDisconnect, p.AddedAt}
	for i, t := range times {
		if !t.IsZero() {
			flags |= 1 << i
		}
	}
	if p.Identified {
		flags |= flagIdentified
	}
	if p.Graylisted {
		flags |= flagGraylisted
	}
	dst = append(dst, flags)
	for _, t := range times {
		if !t.IsZero() {
			dst = binary.AppendVarint(dst, t.UnixNano())
		}
	}
	return dst
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// decoder reads a record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadRecord}, args...)...)
	}
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("truncated")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint(limit uint64, what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	if v > limit {
		d.fail("%s %d over limit %d", what, v, limit)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad %s", what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(what string) []byte {
	n := d.uvarint(maxFieldLen, what+" length")
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail("truncated %s", what)
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// decodeRecord parses one encoded record. It never panics; any malformed
// input yields an error wrapping ErrBadRecord. The result does not alias b.
func decodeRecord(b []byte) (peerstore.Peer, error) {
	var p peerstore.Peer
	if len(b) > maxRecord {
		return p, fmt.Errorf("%w: %d bytes", ErrBadRecord, len(b))
	}
	d := decoder{b: b}
	if v := d.byte(); d.err == nil && v != recordVersion {
		return p, fmt.Errorf("%w: version %d", ErrBadRecord, v)
	}
	id, err := peer.IDFromBytes(d.bytes("id"))
	if d.err == nil && err != nil {
		d.fail("peer id: %v", err)
	}
	p.ID = id
	n := d.uvarint(maxAddrs, "address count")
	for i := uint64(0); i < n && d.err == nil; i++ {
		raw := d.bytes("address")
		if d.err != nil {
			break
		}
		a, err := ma.NewMultiaddrBytes(raw)
		if err != nil {
			d.fail("address %d: %v", i, err)
			break
		}
		p.Addrs = append(p.Addrs, a)
	}
	n = d.uvarint(maxProtos, "protocol count")
	for i := uint64(0); i < n && d.err == nil; i++ {
		raw := d.bytes("protocol")
		if d.err == nil {
			p.Protocols = append(p.Protocols, protocol.ID(raw))
		}
	}
	src := events.PeerSource(d.byte())
	if d.err == nil && (src < events.SourceStatic || src > events.SourceInbound) {
		d.fail("source %d", src)
	}
	p.Source = src
	p.Failures = int(d.uvarint(1<<31-1, "failures"))
	flags := d.byte()
	if d.err == nil && flags>>6 != 0 {
		d.fail("unknown flags %#x", flags)
	}
	times := [4]*time.Time{&p.LastFailure, &p.BackoffUntil, &p.LastDisconnect, &p.AddedAt}
	for i, t := range times {
		if flags&(1<<i) != 0 {
			*t = time.Unix(0, d.varint("time"))
		}
	}
	p.Identified = flags&flagIdentified != 0
	p.Graylisted = flags&flagGraylisted != 0
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return peerstore.Peer{}, d.err
	}
	return p, nil
}

// castagnoli is the CRC-32C table of record checksums.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// sealRecord appends the stored form of p under key to dst: the encoded
// record followed by the CRC-32C (little-endian) of key and record, so that
// damage to either is detected.
func sealRecord(dst, key []byte, p *peerstore.Peer) []byte {
	start := len(dst)
	dst = encodeRecord(dst, p)
	sum := crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, dst[start:])
	return binary.LittleEndian.AppendUint32(dst, sum)
}

// openRecord checks a stored value against its key and returns the record
// body, or false when the checksum does not match.
func openRecord(key, v []byte) ([]byte, bool) {
	if len(v) < 4 {
		return nil, false
	}
	body, sum := v[:len(v)-4], binary.LittleEndian.Uint32(v[len(v)-4:])
	return body, crc32.Update(crc32.Checksum(key, castagnoli), castagnoli, body) == sum
}
