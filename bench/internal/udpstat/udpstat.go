// Package udpstat reads the machine's UDP datagram counters, so that the
// benchmark programs can count the packets a QUIC run sent and received.
package udpstat

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ErrUnavailable is returned where the counters cannot be read (a system
// without /proc/net/snmp, or one that hides it).
var ErrUnavailable = errors.New("udpstat: UDP counters unavailable")

// Counts are the machine-wide UDP datagram counters over IPv4: every
// process's datagrams, loopback included.
type Counts struct {
	// In counts datagrams delivered to sockets; Out datagrams sent (a
	// kernel may count a segmentation-offloaded send of several packets
	// once, so In is the surer count of packets).
	In, Out uint64
}

// Sub returns the counts from earlier to c.
func (c Counts) Sub(earlier Counts) Counts {
	return Counts{In: c.In - earlier.In, Out: c.Out - earlier.Out}
}

// Read returns the current counters, or ErrUnavailable.
func Read() (Counts, error) {
	f, err := os.Open("/proc/net/snmp")
	if err != nil {
		return Counts{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer f.Close()
	return parse(f)
}

// parse reads the "Udp:" header line and the value line after it.
func parse(r io.Reader) (Counts, error) {
	sc := bufio.NewScanner(r)
	var header []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "Udp:" {
			continue
		}
		if header == nil {
			header = fields
			continue
		}
		return pick(header, fields)
	}
	if err := sc.Err(); err != nil {
		return Counts{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return Counts{}, fmt.Errorf("%w: no Udp lines", ErrUnavailable)
}

// pick takes InDatagrams and OutDatagrams from the value line by the
// header's column names.
func pick(header, values []string) (Counts, error) {
	if len(header) != len(values) {
		return Counts{}, fmt.Errorf("%w: %d names for %d values", ErrUnavailable, len(header), len(values))
	}
	var c Counts
	found := 0
	for i, name := range header {
		var dst *uint64
		switch name {
		case "InDatagrams":
			dst = &c.In
		case "OutDatagrams":
			dst = &c.Out
		default:
			continue
		}
		v, err := strconv.ParseUint(values[i], 10, 64)
		if err != nil {
			return Counts{}, fmt.Errorf("%w: %s: %v", ErrUnavailable, name, err)
		}
		*dst = v
		found++
	}
	if found != 2 {
		return Counts{}, fmt.Errorf("%w: InDatagrams or OutDatagrams missing", ErrUnavailable)
	}
	return c, nil
}
