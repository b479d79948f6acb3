package netrun

import (
	"container/heap"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// vnetHdrLen is the size of struct virtio_net_hdr, which PACKET_VNET_HDR
// puts before every frame read and expects before every frame written; it
// carries the GSO and checksum-offload state, so that frames the kernel has
// not segmented or checksummed yet cross the relay intact.
const vnetHdrLen = 10

// maxQueuedBytes bounds what one port's delay queue holds; frames beyond it
// are dropped (counted), as a router's buffer would.
const maxQueuedBytes = 32 << 20

// RelayStats counts what the relay did.
type RelayStats struct {
	// Frames and Bytes count the frames read from the ports (before any
	// drop) and their bytes, Ethernet header included; a frame the kernel
	// has not segmented yet (GSO) counts once, whole.
	Frames, Bytes uint64
	// Flooded counts frames sent to every other port (broadcast, multicast,
	// unknown destination).
	Flooded uint64
	// Dropped counts frames not delivered: the queue bound, or the
	// destination port's qdisc full (ENOBUFS), or another write error.
	Dropped uint64
	// Late is the total lateness of frames written after their due time
	// (scheduling delay of the relay itself), and MaxLate the worst.
	Late, MaxLate time.Duration
}

// Relay is a userspace Ethernet switch with per-port delay, for kernels
// without netem. It reads every frame arriving on each hub-side veth of the
// hub namespace (AF_PACKET) and writes it to the destination port once
// lat(source port) + lat(destination port) has passed: the same delay every
// packet of every implementation gets, applied below TCP. It learns source
// MAC addresses; broadcast, multicast and unknown destinations are flooded.
type Relay struct {
	ports []*port
	macs  sync.Map // [6]byte -> int (port index)
	wg    sync.WaitGroup

	frames, bytes, dropped, flooded atomic.Uint64
	late, maxLate                   atomic.Int64
	closed                          atomic.Bool
}

type port struct {
	idx  int
	lat  time.Duration
	f    *os.File
	mu   sync.Mutex
	q    frameHeap
	qb   int
	seq  uint64
	wake chan struct{}
	done chan struct{}
}

type frame struct {
	due time.Time
	seq uint64
	b   []byte
}

type frameHeap []frame

func (h frameHeap) Len() int { return len(h) }
func (h frameHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].seq < h[j].seq
}
func (h frameHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *frameHeap) Push(x any)   { *h = append(*h, x.(frame)) }
func (h *frameHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	old[len(old)-1] = frame{}
	*h = old[:len(old)-1]
	return f
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// StartRelay opens one packet socket per interface (in namespace ns) and
// starts relaying; lats[i] is the one-way latency of ifaces[i]'s link, and
// macs[i] (optional, "" or a nil slice: learnt) the Ethernet address behind
// it, known before that port sent anything.
func StartRelay(ns string, ifaces []string, lats []time.Duration, macs []string) (*Relay, error) {
	if len(ifaces) != len(lats) || (macs != nil && len(macs) != len(ifaces)) {
		return nil, errors.New("relay: one latency (and at most one address) per interface")
	}
	r := &Relay{}
	for i, m := range macs {
		if m == "" {
			continue
		}
		hw, err := net.ParseMAC(m)
		if err != nil || len(hw) != 6 {
			return nil, fmt.Errorf("relay: address %q of %s: %v", m, ifaces[i], err)
		}
		r.macs.Store([6]byte(hw), i)
	}
	err := inNetns(ns, func() error {
		for i, name := range ifaces {
			f, err := openPacket(name)
			if err != nil {
				return fmt.Errorf("relay: %s: %w", name, err)
			}
			r.ports = append(r.ports, &port{idx: i, lat: lats[i], f: f, wake: make(chan struct{}, 1), done: make(chan struct{})})
		}
		return nil
	})
	if err != nil {
		for _, p := range r.ports {
			p.f.Close()
		}
		return nil, err
	}
	for _, p := range r.ports {
		r.wg.Add(2)
		go r.read(p)
		go r.write(p)
	}
	return r, nil
}

func openPacket(name string) (*os.File, error) {
	ifi, err := net.InterfaceByName(name)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	opts := []struct{ level, opt, v int }{
		{unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1},
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1},
		{unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8 << 20},
		{unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 8 << 20},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.v); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("setsockopt %d/%d: %w", o.level, o.opt, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind: %w", err)
	}
	return os.NewFile(uintptr(fd), "packet:"+name), nil
}

func (r *Relay) read(p *port) {
	defer r.wg.Done()
	rc, err := p.f.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, vnetHdrLen+65536+64)
	for {
		var n int
		var rerr error
		var outgoing bool
		err := rc.Read(func(fd uintptr) bool {
			var from unix.Sockaddr
			n, from, rerr = unix.Recvfrom(int(fd), buf, 0)
			if rerr == unix.EAGAIN {
				return false
			}
			if ll, ok := from.(*unix.SockaddrLinklayer); ok && ll.Pkttype == unix.PACKET_OUTGOING {
				outgoing = true
			}
			return true
		})
		if err != nil || (rerr != nil && rerr != unix.EINTR) {
			return // closed
		}
		if rerr != nil || outgoing || n < vnetHdrLen+14 {
			continue
		}
		now := time.Now()
		b := buf[:n]
		var src, dst [6]byte
		copy(dst[:], b[vnetHdrLen:vnetHdrLen+6])
		copy(src[:], b[vnetHdrLen+6:vnetHdrLen+12])
		if src[0]&1 == 0 {
			if v, ok := r.macs.Load(src); !ok || v.(int) != p.idx {
				r.macs.Store(src, p.idx)
			}
		}
		r.frames.Add(1)
		r.bytes.Add(uint64(n - vnetHdrLen))
		if dst[0]&1 == 0 {
			if v, ok := r.macs.Load(dst); ok {
				if d := v.(int); d != p.idx {
					r.enqueue(r.ports[d], now.Add(p.lat+r.ports[d].lat), b)
				}
				continue
			}
		}
		r.flooded.Add(1)
		for _, d := range r.ports {
			if d != p {
				r.enqueue(d, now.Add(p.lat+d.lat), b)
			}
		}
	}
}

func (r *Relay) enqueue(d *port, due time.Time, b []byte) {
	c := make([]byte, len(b))
	copy(c, b)
	d.mu.Lock()
	if d.qb+len(c) > maxQueuedBytes {
		d.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	d.seq++
	heap.Push(&d.q, frame{due: due, seq: d.seq, b: c})
	d.qb += len(c)
	first := d.q[0].seq == d.seq
	d.mu.Unlock()
	if first {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

func (r *Relay) write(p *port) {
	defer r.wg.Done()
	rc, err := p.f.SyscallConn()
	if err != nil {
		return
	}
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		p.mu.Lock()
		var next time.Time
		var ready []frame
		now := time.Now()
		for p.q.Len() > 0 && !p.q[0].due.After(now) {
			f := heap.Pop(&p.q).(frame)
			p.qb -= len(f.b)
			ready = append(ready, f)
		}
		if p.q.Len() > 0 {
			next = p.q[0].due
		}
		p.mu.Unlock()
		for _, f := range ready {
			late := now.Sub(f.due)
			r.late.Add(int64(late))
			for {
				m := r.maxLate.Load()
				if int64(late) <= m || r.maxLate.CompareAndSwap(m, int64(late)) {
					break
				}
			}
			var werr error
			err := rc.Write(func(fd uintptr) bool {
				_, werr = unix.Write(int(fd), f.b)
				return werr != unix.EAGAIN
			})
			if err != nil {
				return // closed
			}
			if werr != nil {
				r.dropped.Add(1)
			}
		}
		if len(ready) > 0 {
			continue
		}
		if next.IsZero() {
			select {
			case <-p.wake:
			case <-p.done:
				return
			}
			continue
		}
		t.Reset(time.Until(next))
		select {
		case <-t.C:
		case <-p.wake:
			if !t.Stop() {
				select {
				case <-t.C:
				default:
				}
			}
		case <-p.done:
			return
		}
	}
}

// Stats returns the relay's counters so far.
func (r *Relay) Stats() RelayStats {
	return RelayStats{Frames: r.frames.Load(), Bytes: r.bytes.Load(), Dropped: r.dropped.Load(), Flooded: r.flooded.Load(),
		Late: time.Duration(r.late.Load()), MaxLate: time.Duration(r.maxLate.Load())}
}

// Close stops the relay and closes its sockets; it is idempotent.
func (r *Relay) Close() error {
	if r.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, p := range r.ports {
		close(p.done)
		errs = append(errs, p.f.Close())
	}
	r.wg.Wait()
	return errors.Join(errs...)
}
