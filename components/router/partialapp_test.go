package router

import (
	"errors"
	"fmt"
	"sync"
)

// bitParts is the test application's partial message: up to 8 parts, its
// parts metadata is one byte, the bitmap of parts held; encoded parts are
// repeated (index, length, bytes) triples. The go-libp2p-pubsub side of the
// interop test speaks the same encoding.
type bitParts struct {
	mu    sync.Mutex
	n     int
	parts [8][]byte
	have  byte
	eager bool // PartsFor(nil) pushes everything
}

func newBitParts(n int) *bitParts { return &bitParts{n: n} }

// fullBitParts returns a complete message of n parts "<prefix>-<i>".
func fullBitParts(n int, prefix string) *bitParts {
	m := newBitParts(n)
	for i := range n {
		m.parts[i] = fmt.Appendf(nil, "%s-%d", prefix, i)
		m.have |= 1 << i
	}
	return m
}

func (m *bitParts) full() byte { return byte(1<<m.n - 1) }

func (m *bitParts) PartsMetadata() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return []byte{m.have}
}

var errBadMeta = errors.New("bitParts: metadata is not one byte")

func (m *bitParts) PartsFor(peerMeta []byte) (parts, after []byte, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var theirs byte
	switch {
	case peerMeta == nil && !m.eager:
		return nil, nil, nil
	case peerMeta == nil:
	case len(peerMeta) != 1:
		return nil, nil, errBadMeta
	default:
		theirs = peerMeta[0]
	}
	lacks := m.have &^ theirs
	if lacks == 0 {
		return nil, nil, nil
	}
	out := encodeParts(m.parts[:], lacks)
	if peerMeta == nil {
		return out, nil, nil
	}
	return out, []byte{theirs | lacks}, nil
}

func encodeParts(parts [][]byte, mask byte) []byte {
	var out []byte
	for i := range 8 {
		if mask&(1<<i) != 0 {
			out = append(out, byte(i), byte(len(parts[i])))
			out = append(out, parts[i]...)
		}
	}
	return out
}

var errBadParts = errors.New("bitParts: malformed parts")

// decodeParts calls fn for each (index, data) of an encoded partial message.
func decodeParts(b []byte, n int, fn func(i int, data []byte)) error {
	for len(b) > 0 {
		if len(b) < 2 || int(b[0]) >= n || len(b) < 2+int(b[1]) {
			return errBadParts
		}
		fn(int(b[0]), b[2:2+int(b[1])])
		b = b[2+int(b[1]):]
	}
	return nil
}

func (m *bitParts) Extend(b []byte) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := decodeParts(b, m.n, func(int, []byte) {}); err != nil {
		return false, err
	}
	added := false
	_ = decodeParts(b, m.n, func(i int, data []byte) {
		if m.have&(1<<i) == 0 {
			m.parts[i] = append([]byte(nil), data...)
			m.have |= 1 << i
			added = true
		}
	})
	return added, nil
}

func (m *bitParts) Complete() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.have == m.full()
}

func (m *bitParts) Full() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []byte
	for i := range m.n {
		out = append(out, m.parts[i]...)
	}
	return out
}

func (m *bitParts) Have() byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.have
}

// bitLogic creates empty bitParts of n parts for groups peers open.
type bitLogic struct {
	n     int
	mu    sync.Mutex
	made  map[string]*bitParts
	eager bool
}

func (l *bitLogic) NewGroup(topic string, gid []byte) (PartialMessage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if string(gid) == "refuse" {
		return nil, errors.New("refused")
	}
	m := newBitParts(l.n)
	m.eager = l.eager
	if l.made == nil {
		l.made = map[string]*bitParts{}
	}
	l.made[string(gid)] = m
	return m, nil
}
