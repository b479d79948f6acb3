package persist

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
)

// bbolt trusts its file: a damaged page makes it panic, or read past its
// memory mapping and crash the process with SIGBUS (its own Check does too,
// on a goroutine nobody can recover). So before bbolt touches a file,
// precheck reads it into memory and walks everything bbolt will read at
// Open and while loading the store — the meta pages, the freelist, every
// page of every bucket's tree, every key and value — with Go's bounds checks
// and a visited set against cycles. A file that passes is safe to open.
//
// The layout follows go.etcd.io/bbolt internal/common (format version 2,
// little-endian on every platform this project builds for): a page is a
// 16-byte header (id u64, flags u16, count u16, overflow u32) then elements;
// a branch element is (pos u32, ksize u32, pgid u64), a leaf element (flags
// u32, pos u32, ksize u32, vsize u32), pos counting from the element itself;
// a meta page holds magic, version, page size, flags (u32 each), the root
// bucket (root pgid u64, sequence u64), freelist pgid, high-water pgid, txid
// and an FNV-64a checksum of the 56 bytes before it; a bucket value is its
// root pgid and sequence, followed by an inline leaf page when the root is 0.
const (
	boltPageHeader   = 16
	boltElemSize     = 16
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltMetaSum      = 56
	boltNoFreelist   = ^uint64(0)
	boltBranchFlag   = 0x01
	boltLeafFlag     = 0x02
	boltFreelistFlag = 0x10
	boltBucketLeaf   = 0x01
	boltBucketHeader = 16
)

var le = binary.LittleEndian

type boltMeta struct {
	pageSize uint64
	root     uint64
	freelist uint64
	pgid     uint64
	txid     uint64
}

// parseBoltMeta reads the meta of the page at off, reporting false when it
// is not a valid meta (bbolt then uses the other one).
func parseBoltMeta(buf []byte, off uint64) (boltMeta, bool) {
	if off+boltPageHeader+boltMetaSum+8 > uint64(len(buf)) {
		return boltMeta{}, false
	}
	b := buf[off+boltPageHeader:]
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	_, _ = h.Write(b[:boltMetaSum])
	if h.Sum64() != le.Uint64(b[boltMetaSum:]) {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: uint64(le.Uint32(b[8:])), root: le.Uint64(b[16:]),
		freelist: le.Uint64(b[32:]), pgid: le.Uint64(b[40:]), txid: le.Uint64(b[48:]),
	}, true
}

// precheck validates the file at path; a missing file passes (bbolt
// creates it), a zero-length file is corrupt (bbolt would silently start an
// empty store over it), a file with no valid meta page is left to bbolt
// (which rejects it with an error before reading further), a file with one
// damaged meta page is corrupt (bbolt would silently fall back to the
// previous transaction), and any structural damage yields ErrCorruptStore.
func precheck(path string) error {
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("peermgr/persist: stat %s: %w", path, err)
	}
	if st.IsDir() {
		return fmt.Errorf("peermgr/persist: %s is a directory", path)
	}
	if st.Size() == 0 {
		return fmt.Errorf("%w: %s: zero-length file", ErrCorruptStore, path)
	}
	buf, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("peermgr/persist: read %s: %w", path, err)
	}
	m, ok := chooseMeta(buf)
	if !ok {
		return nil
	}
	if _, ok0 := parseBoltMeta(buf, 0); !ok0 {
		return fmt.Errorf("%w: %s: meta page 0 damaged", ErrCorruptStore, path)
	}
	if _, ok1 := parseBoltMeta(buf, m.pageSize); !ok1 {
		return fmt.Errorf("%w: %s: meta page 1 damaged", ErrCorruptStore, path)
	}
	if err := walkFile(buf, m); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrCorruptStore, path, err)
	}
	return nil
}

// chooseMeta picks the meta bbolt would: the valid one with the higher txid.
func chooseMeta(buf []byte) (boltMeta, bool) {
	m0, ok0 := parseBoltMeta(buf, 0)
	var m1 boltMeta
	ok1 := false
	if ok0 {
		m1, ok1 = parseBoltMeta(buf, m0.pageSize)
	} else {
		for _, ps := range []uint64{4096, 8192, 16384, 32768, 65536} {
			if m1, ok1 = parseBoltMeta(buf, ps); ok1 && m1.pageSize == ps {
				break
			}
			ok1 = false
		}
	}
	if ok1 && (!ok0 || m1.txid > m0.txid) {
		return m1, true
	}
	return m0, ok0
}

// walker checks the page structure reachable from one meta.
type walker struct {
	buf     []byte
	m       boltMeta
	visited map[uint64]bool
}

// walkFile runs the walk; an out-of-range slice anywhere in it is damage,
// turned into an error by the recover.
func walkFile(buf []byte, m boltMeta) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed page structure: %v", r)
		}
	}()
	if m.pageSize < 512 || m.pageSize > 1<<20 || m.pgid < 4 {
		return fmt.Errorf("meta: page size %d, %d pages", m.pageSize, m.pgid)
	}
	if need := m.pgid * m.pageSize; need/m.pageSize != m.pgid || need > uint64(len(buf)) {
		return fmt.Errorf("%d bytes, meta claims %d pages of %d", len(buf), m.pgid, m.pageSize)
	}
	w := &walker{buf: buf, m: m, visited: map[uint64]bool{0: true, 1: true}}
	if m.freelist != boltNoFreelist {
		if err := w.freelist(); err != nil {
			return err
		}
	}
	return w.tree(m.root, 0)
}

// page returns the bytes of page id and its overflow pages, marking them
// visited; a page reached twice is damage (a cycle or a shared page).
func (w *walker) page(id uint64) ([]byte, error) {
	if id < 2 || id >= w.m.pgid {
		return nil, fmt.Errorf("page %d outside 2..%d", id, w.m.pgid)
	}
	hdr := w.buf[id*w.m.pageSize:]
	overflow := uint64(le.Uint32(hdr[12:]))
	if le.Uint64(hdr) != id {
		return nil, fmt.Errorf("page %d: header says %d", id, le.Uint64(hdr))
	}
	if id+overflow >= w.m.pgid {
		return nil, fmt.Errorf("page %d: overflow %d past %d pages", id, overflow, w.m.pgid)
	}
	for p := id; p <= id+overflow; p++ {
		if w.visited[p] {
			return nil, fmt.Errorf("page %d reached twice", p)
		}
		w.visited[p] = true
	}
	return w.buf[id*w.m.pageSize : (id+overflow+1)*w.m.pageSize], nil
}

func (w *walker) freelist() error {
	p, err := w.page(w.m.freelist)
	if err != nil {
		return fmt.Errorf("freelist: %v", err)
	}
	if flags := le.Uint16(p[8:]); flags != boltFreelistFlag {
		return fmt.Errorf("freelist: page flags %#x", flags)
	}
	skip, count := uint64(0), uint64(le.Uint16(p[10:]))
	if count == 0xFFFF {
		skip, count = 1, le.Uint64(p[boltPageHeader:])
	}
	if count > uint64(len(p))/8 {
		return fmt.Errorf("freelist: %d ids in %d bytes", count, len(p))
	}
	ids := p[boltPageHeader+skip*8 : boltPageHeader+(skip+count)*8]
	for i := uint64(0); i < count; i++ {
		if id := le.Uint64(ids[i*8:]); id < 2 || id >= w.m.pgid {
			return fmt.Errorf("freelist: id %d outside 2..%d", id, w.m.pgid)
		}
	}
	return nil
}

// tree checks the B+tree rooted at page id.
func (w *walker) tree(id uint64, depth int) error {
	if depth > 64 {
		return fmt.Errorf("tree deeper than 64")
	}
	p, err := w.page(id)
	if err != nil {
		return err
	}
	return w.nodes(p, depth)
}

// nodes checks the elements of one page (in the file or inline).
func (w *walker) nodes(p []byte, depth int) error {
	flags, count := le.Uint16(p[8:]), uint64(le.Uint16(p[10:]))
	for i := uint64(0); i < count; i++ {
		off := boltPageHeader + i*boltElemSize
		e := p[off : off+boltElemSize]
		switch flags {
		case boltBranchFlag:
			pos, ksize, child := uint64(le.Uint32(e[0:])), uint64(le.Uint32(e[4:])), le.Uint64(e[8:])
			_ = p[off+pos : off+pos+ksize]
			if err := w.tree(child, depth+1); err != nil {
				return err
			}
		case boltLeafFlag:
			eflags, pos := le.Uint32(e[0:]), uint64(le.Uint32(e[4:]))
			ksize, vsize := uint64(le.Uint32(e[8:])), uint64(le.Uint32(e[12:]))
			v := p[off+pos+ksize : off+pos+ksize+vsize]
			_ = p[off+pos : off+pos+ksize]
			if eflags&boltBucketLeaf != 0 {
				if err := w.bucket(v, depth); err != nil {
					return err
				}
			}
		default:
			return fmt.Errorf("page flags %#x", flags)
		}
	}
	return nil
}

// bucket checks a nested bucket: its tree, or its inline page.
func (w *walker) bucket(v []byte, depth int) error {
	if len(v) < boltBucketHeader {
		return fmt.Errorf("bucket value of %d bytes", len(v))
	}
	if root := le.Uint64(v); root != 0 {
		return w.tree(root, depth+1)
	}
	inline := v[boltBucketHeader:]
	if depth > 64 {
		return fmt.Errorf("inline buckets nested deeper than 64")
	}
	if len(inline) < boltPageHeader || le.Uint16(inline[8:]) != boltLeafFlag {
		return fmt.Errorf("inline bucket is not a leaf page")
	}
	return w.nodes(inline, depth+1)
}
