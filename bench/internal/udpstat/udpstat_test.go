package udpstat

import (
	"errors"
	"strings"
	"testing"
)

const sample = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 12345
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 66883298 7821 0 19644457 0 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 1 2 3 4 5 6 7 8 9
`

func TestParse(t *testing.T) {
	c, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	if c != (Counts{In: 66883298, Out: 19644457}) {
		t.Fatalf("got %+v", c)
	}
	if d := c.Sub(Counts{In: 66883290, Out: 19644450}); d != (Counts{In: 8, Out: 7}) {
		t.Fatalf("Sub: %+v", d)
	}
}

func TestParseRejects(t *testing.T) {
	for name, in := range map[string]string{
		"empty":          "",
		"header only":    "Udp: InDatagrams OutDatagrams\n",
		"short values":   "Udp: InDatagrams OutDatagrams\nUdp: 1\n",
		"not a number":   "Udp: InDatagrams OutDatagrams\nUdp: 1 x\n",
		"column missing": "Udp: InDatagrams NoPorts\nUdp: 1 2\n",
	} {
		if _, err := parse(strings.NewReader(in)); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: err %v, want ErrUnavailable", name, err)
		}
	}
}

// On a machine with the counters, two reads never go backwards.
func TestRead(t *testing.T) {
	a, err := Read()
	if errors.Is(err, ErrUnavailable) {
		t.Skipf("no UDP counters here: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read()
	if err != nil {
		t.Fatal(err)
	}
	if b.In < a.In || b.Out < a.Out {
		t.Fatalf("counters went backwards: %+v then %+v", a, b)
	}
}
