package wire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
)

// DefaultMaxRPCSize is the default limit on one RPC's encoded size (the frame
// payload, excluding its length prefix): 1 MiB, as in other implementations.
const DefaultMaxRPCSize = 1 << 20

// Framing errors.
var (
	// ErrFrameTooLarge: a frame's length prefix (or an RPC to write) exceeds
	// the maximum RPC size. The reader does not read or allocate the payload;
	// the stream cannot be resynchronised and should be reset.
	ErrFrameTooLarge = errors.New("wire: frame larger than the maximum RPC size")
	// ErrBadLengthPrefix: the length prefix is not a valid uvarint (more than
	// 10 bytes or overflowing 64 bits).
	ErrBadLengthPrefix = errors.New("wire: malformed frame length prefix")
	// ErrDecode: the frame payload is not a valid RPC protobuf. The stream is
	// still in sync (the whole frame was consumed), but a peer that sends
	// garbage is usually cut off.
	ErrDecode = errors.New("wire: undecodable RPC")
)

// Reader reads length-prefixed RPCs (uvarint length, then that many bytes of
// protobuf RPC) from a stream. It is not safe for concurrent use. Its memory
// use is bounded by the maximum RPC size plus a small read buffer, and an
// idle Reader holds no buffer: it waits for a frame's first byte with a
// one-byte read, takes a read buffer from a pool shared by every Reader,
// and returns it as soon as it holds no unread bytes after a frame.
type Reader struct {
	src io.Reader
	r   *bufio.Reader // nil while idle (nothing buffered)
	pre prefixReader
	max int
	buf []byte
}

// readBufSize is the size of a Reader's read buffer: a frame that fits is
// decoded where it is buffered.
const readBufSize = 4096

// readBufs holds idle Readers' read buffers.
var readBufs = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufSize) }}

// prefixReader yields one byte read ahead (with the error that came with
// it), then reads from src.
type prefixReader struct {
	src io.Reader
	one [1]byte
	has bool
	err error
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if p.has {
		if len(b) == 0 {
			return 0, nil
		}
		b[0], p.has = p.one[0], false
		err := p.err
		p.err = nil
		return 1, err
	}
	return p.src.Read(b)
}

// NewReader returns a Reader on r that rejects frames larger than maxSize
// bytes (DefaultMaxRPCSize when maxSize <= 0).
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 {
		maxSize = DefaultMaxRPCSize
	}
	return &Reader{src: r, pre: prefixReader{src: r}, max: maxSize}
}

// acquire gives an idle Reader its read buffer once the stream has a byte
// for it; it returns the read's error when the stream has none (io.EOF:
// the stream ended cleanly between frames).
func (r *Reader) acquire() error {
	if r.r != nil {
		return nil
	}
	var (
		n   int
		err error
	)
	for range 100 { // as bufio: a reader that keeps returning 0, nil is broken
		if n, err = r.src.Read(r.pre.one[:]); n > 0 || err != nil {
			break
		}
	}
	if n == 0 {
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	r.pre.has, r.pre.err = true, err
	br := readBufs.Get().(*bufio.Reader)
	br.Reset(&r.pre)
	r.r = br
	return nil
}

// release returns the read buffer to the pool when it holds nothing unread.
func (r *Reader) release() {
	if r.r != nil && r.r.Buffered() == 0 && !r.pre.has {
		r.r.Reset(nil)
		readBufs.Put(r.r)
		r.r = nil
	}
}

// ReadFrame reads the next frame and returns its payload. The returned slice
// is only valid until the next call. It returns io.EOF on a clean end of
// stream before a frame starts, io.ErrUnexpectedEOF when the stream ends
// inside a frame, ErrBadLengthPrefix or ErrFrameTooLarge (wrapped) on a bad
// prefix; in the last two cases nothing of the payload was read.
func (r *Reader) ReadFrame() ([]byte, error) {
	if err := r.acquire(); err != nil {
		return nil, err
	}
	defer r.release()
	n, err := readUvarint(r.r)
	if err != nil {
		return nil, err
	}
	if n > uint64(r.max) {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n, r.max)
	}
	size := int(n)
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	r.buf = r.buf[:size]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return r.buf, nil
}

// ReadRPC reads and decodes the next RPC into a new *pb.RPC, which the caller
// owns (it does not alias the reader's buffer). Errors are those of ReadFrame,
// or ErrDecode (wrapped) when the payload is not a valid RPC.
//
// A frame that fits the read buffer (readBufSize) is decoded where it is
// buffered; a larger one is decoded field by field as it arrives (see
// readFields), so a Reader holds a frame-sized buffer neither while idle
// nor while a large frame of small messages trickles in.
func (r *Reader) ReadRPC() (*pb.RPC, error) {
	if err := r.acquire(); err != nil {
		return nil, err
	}
	defer r.release()
	n, err := readUvarint(r.r)
	if err != nil {
		return nil, err
	}
	if n > uint64(r.max) {
		return nil, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, n, r.max)
	}
	if int(n) <= r.r.Size() {
		return r.decodeBuffered(int(n))
	}
	return r.readFields(int(n))
}

// decodeBuffered decodes the next n bytes, a frame that fits the read
// buffer, where they are buffered: no copy, no frame buffer (DecodeRPC
// copies what it keeps).
func (r *Reader) decodeBuffered(n int) (*pb.RPC, error) {
	frame, err := r.r.Peek(n)
	if err != nil {
		return nil, unexpected(err)
	}
	rpc, err := DecodeRPC(frame)
	_, _ = r.r.Discard(n) // n bytes are buffered: it cannot fail
	return rpc, err
}

// framePools hold frame buffers shared by Readers and Writers, one pool
// per size class: from minPooled to maxPooled, eight classes per doubling
// (2048, 2304, 2560, ... 4096, 4608, ...), so a buffer is at most 12.5%
// larger than the frame it was taken for, and a small frame never holds a
// buffer grown by a large one. Buffers are held only while a frame is
// read or written.
var framePools [framePoolClasses]sync.Pool

const (
	minPooledShift = 11 // 2 KiB: a 1 KiB message's frame
	maxPooledShift = 18
	// maxPooled bounds the buffers kept in the pools; larger ones are
	// left to the garbage collector.
	maxPooled        = 1 << maxPooledShift
	classesPerDouble = 8
	framePoolClasses = (maxPooledShift-minPooledShift)*classesPerDouble + 1
)

// classSize is the capacity of class c's buffers.
func classSize(c int) int {
	e := minPooledShift + c/classesPerDouble
	return 1<<e + (c%classesPerDouble)<<(e-3)
}

// frameClass returns the smallest class whose buffers hold n bytes;
// framePoolClasses when n is above maxPooled.
func frameClass(n int) int {
	if n <= 1<<minPooledShift {
		return 0
	}
	if n > maxPooled {
		return framePoolClasses
	}
	e := bits.Len(uint(n-1)) - 1 // 1<<e < n <= 1<<(e+1)
	step := 1 << (e - 3)
	k := (n - 1<<e + step - 1) / step // 1..8
	return (e-minPooledShift)*classesPerDouble + k
}

// capClass returns the largest class whose size is at most n (n at least
// minPooled and at most maxPooled).
func capClass(n int) int {
	e := bits.Len(uint(n)) - 1 // 1<<e <= n < 1<<(e+1)
	return (e-minPooledShift)*classesPerDouble + (n-1<<e)>>(e-3)
}

// getBuf returns an empty buffer of capacity at least n.
func getBuf(n int) *[]byte {
	c := frameClass(n)
	if c < framePoolClasses {
		if bp, ok := framePools[c].Get().(*[]byte); ok {
			return bp
		}
		n = classSize(c)
	}
	b := make([]byte, 0, n)
	return &b
}

// putBuf returns bp to the pool of the largest class its capacity holds.
func putBuf(bp *[]byte) {
	n := cap(*bp)
	if n < 1<<minPooledShift || n > maxPooled {
		return
	}
	*bp = (*bp)[:0]
	framePools[capClass(n)].Put(bp)
}

// Writer writes length-prefixed RPCs to a stream. A frame of at most 8 KiB
// is written in one Write call; a larger one carrying messages in several
// (see WriteRPC). It is not safe for concurrent use, and a frame is never
// interleaved with another as long as one Writer alone writes to the
// stream.
type Writer struct {
	w    io.Writer
	max  int
	rest pb.RPC // scratch for writeStreamed
}

// NewWriter returns a Writer on w that refuses RPCs larger than maxSize bytes
// (DefaultMaxRPCSize when maxSize <= 0): a peer would reject them anyway, so
// callers split first (see Split).
func NewWriter(w io.Writer, maxSize int) *Writer {
	if maxSize <= 0 {
		maxSize = DefaultMaxRPCSize
	}
	return &Writer{w: w, max: maxSize}
}

// WriteRPC encodes rpc with its uvarint length prefix and writes it. It
// returns ErrFrameTooLarge (wrapped) without writing anything when the
// encoded RPC exceeds the maximum size.
//
// A frame of at most 8 KiB, or one whose messages all have at most 2 KiB
// of data, is encoded into a pooled buffer (see ReadRPC) and written in one
// call. A larger frame with a larger message is written in pieces from one
// pooled 8 KiB buffer: the fields other than the messages, then each
// message with its from, seqno, topic, signature and key before its data
// (so a receiver knows its default id from its first bytes; any field
// order is valid protobuf), and data longer than 2 KiB written straight
// from the message, not copied: a large message is never copied into a
// frame, and a writer blocked on a slow stream holds at most 8 KiB of
// encoded frame besides the messages.
// After an error part of the frame may have been written: the stream is
// then out of sync and should be reset.
func (w *Writer) WriteRPC(rpc *pb.RPC) error {
	size := proto.Size(rpc)
	if w.max > 0 && size > w.max {
		return fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, w.max)
	}
	if binary.MaxVarintLen64+size > writeChunk && hasLargeData(rpc) {
		if done, err := w.writeStreamed(rpc, size); done {
			return err
		}
	}
	bp := getBuf(binary.MaxVarintLen64 + size)
	defer putBuf(bp)
	buf, err := appendFrame((*bp)[:0], rpc, size)
	if err != nil {
		return err
	}
	*bp = buf
	_, err = w.w.Write(buf)
	return err
}

// AppendFrame appends rpc's frame (uvarint length, then the protobuf) to dst
// and returns the extended slice. It returns ErrFrameTooLarge (wrapped) when
// the encoded RPC exceeds maxSize bytes (no limit when maxSize <= 0).
func AppendFrame(dst []byte, rpc *pb.RPC, maxSize int) ([]byte, error) {
	size := proto.Size(rpc)
	if maxSize > 0 && size > maxSize {
		return dst, fmt.Errorf("%w: %d > %d", ErrFrameTooLarge, size, maxSize)
	}
	return appendFrame(dst, rpc, size)
}

// appendFrame is AppendFrame for an RPC whose size was just computed.
func appendFrame(dst []byte, rpc *pb.RPC, size int) ([]byte, error) {
	dst = binary.AppendUvarint(dst, uint64(size))
	out, err := proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(dst, rpc)
	if err != nil {
		return dst, fmt.Errorf("wire: encode RPC: %w", err)
	}
	return out, nil
}

// readUvarint reads a uvarint length prefix. Unlike binary.ReadUvarint it
// reports a malformed prefix with ErrBadLengthPrefix, and io.EOF only when the
// stream ends before the first byte.
func readUvarint(r io.ByteReader) (uint64, error) {
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := r.ReadByte()
		if err != nil {
			if i > 0 && errors.Is(err, io.EOF) {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, ErrBadLengthPrefix
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, ErrBadLengthPrefix
}

// readFields reads and decodes a frame of n bytes, larger than the read
// buffer, one top-level field at a time: a field that fits the read
// buffer is decoded where it is buffered (a message by decodeMessage, which
// copies what it keeps; any other field merged as proto.Unmarshal would);
// a larger message is read into a buffer of its own that the decoded
// message keeps (its data is copied once), any other larger field into a
// pooled buffer of its size. The
// result is DecodeRPC's for the whole frame: merging a message's fields
// one encoded field at a time is what protobuf decoding of their
// concatenation does. A frame malformed at the top level (a bad tag or
// length, a group, a field running past the frame) is read whole from that
// field on and decoded by DecodeRPC's rules, which give its error; either
// way the whole frame is consumed.
func (r *Reader) readFields(n int) (*pb.RPC, error) {
	rpc := new(pb.RPC)
	for left := n; left > 0; {
		hdr, err := r.r.Peek(min(left, 2*binary.MaxVarintLen64))
		if err != nil {
			return nil, unexpected(err)
		}
		num, typ, tl := protowire.ConsumeTag(hdr)
		fl := -1
		if tl > 0 {
			switch typ {
			case protowire.BytesType:
				if v, l := protowire.ConsumeVarint(hdr[tl:]); l > 0 && v <= uint64(left) {
					fl = tl + l + int(v)
				}
			case protowire.VarintType:
				if _, l := protowire.ConsumeVarint(hdr[tl:]); l > 0 {
					fl = tl + l
				}
			case protowire.Fixed32Type:
				fl = tl + 4
			case protowire.Fixed64Type:
				fl = tl + 8
			}
		}
		if fl < 0 || fl > left {
			// Malformed here, or a group: the rest of the frame in one
			// piece, decoded (and rejected) as DecodeRPC would.
			return r.readRest(rpc, left)
		}
		var field []byte
		var bp *[]byte
		isMsg := num == publishField && typ == protowire.BytesType
		if fl <= r.r.Size() {
			if field, err = r.r.Peek(fl); err != nil {
				return nil, unexpected(err)
			}
		} else if isMsg {
			// A large message: read into a buffer the decoded message
			// keeps, so its data is copied once, not twice.
			field = make([]byte, fl)
			if _, err := io.ReadFull(r.r, field); err != nil {
				return nil, unexpected(err)
			}
		} else {
			bp = getBuf(fl)
			field = (*bp)[:fl]
			if _, err := io.ReadFull(r.r, field); err != nil {
				putBuf(bp)
				return nil, unexpected(err)
			}
		}
		if isMsg {
			v, _ := protowire.ConsumeBytes(field[tl:])
			m := decodeMessageIn(v, fl > r.r.Size())
			if m == nil {
				m = new(pb.Message)
				err = proto.Unmarshal(v, m)
			}
			rpc.Publish = append(rpc.Publish, m)
		} else {
			err = mergeAll.Unmarshal(field, rpc)
		}
		if bp != nil {
			putBuf(bp)
		} else if fl <= r.r.Size() {
			_, _ = r.r.Discard(fl) // fl bytes are buffered: it cannot fail
		}
		left -= fl
		if err != nil {
			if _, derr := r.r.Discard(left); derr != nil {
				return nil, unexpected(derr)
			}
			return nil, fmt.Errorf("%w: %v", ErrDecode, err)
		}
	}
	return rpc, nil
}

// readRest reads the last left bytes of a frame whole and decodes them
// into rpc, which holds the frame's fields before them.
func (r *Reader) readRest(rpc *pb.RPC, left int) (*pb.RPC, error) {
	bp := getBuf(left)
	defer putBuf(bp)
	rest := (*bp)[:left]
	if _, err := io.ReadFull(r.r, rest); err != nil {
		return nil, unexpected(err)
	}
	if err := decodeRPC(rest, rpc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecode, err)
	}
	return rpc, nil
}
