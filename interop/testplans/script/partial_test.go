package script

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPartContentCountsFromGroupID(t *testing.T) {
	for _, gid := range []uint64{0, 7, 1<<64 - 1} {
		for i := range NumParts {
			p := PartContent(gid, i)
			if len(p) != PartLen {
				t.Fatalf("part %d is %d bytes", i, len(p))
			}
			for j := 0; j < PartLen/8; j++ {
				if got, want := binary.BigEndian.Uint64(p[j*8:]), gid+uint64(i*PartLen/8+j); got != want {
					t.Fatalf("gid %d part %d word %d = %d, want %d", gid, i, j, got, want)
				}
			}
		}
	}
}

// Two halves of a group complete each other through Encode/Extend, the
// encoding is the plans' (bitmap, parts in bit order, group id), and only
// the completing call reports completion.
func TestPartialGroupExchange(t *testing.T) {
	a, b := NewPartialGroup(42), NewPartialGroup(42)
	if a.Fill(0b1010_0101) || b.Fill(0b0101_1010) {
		t.Fatal("half a group reported complete")
	}
	enc, sent := a.Encode(b.Have())
	if sent != 0b1010_0101 || len(enc) != 1+4*PartLen+8 || enc[0] != sent || !bytes.Equal(enc[len(enc)-8:], GroupIDBytes(42)) {
		t.Fatalf("encoded %d bytes, bitmap %08b", len(enc), sent)
	}
	if !bytes.Equal(enc[1:1+PartLen], PartContent(42, 0)) || !bytes.Equal(enc[1+PartLen:1+2*PartLen], PartContent(42, 2)) {
		t.Fatal("parts not in bit order")
	}
	added, done, err := b.Extend(enc)
	if err != nil || added != 0b1010_0101 || !done || !b.Complete() {
		t.Fatalf("extend: added %08b done %v err %v", added, done, err)
	}
	added, done, err = b.Extend(enc)
	if err != nil || added != 0 || done {
		t.Fatalf("re-extend: added %08b done %v err %v", added, done, err)
	}
	if e, s := b.Encode(AllParts); e != nil || s != 0 {
		t.Fatal("encoded parts for a peer that has them all")
	}
	if !NewPartialGroup(1).Fill(AllParts) {
		t.Fatal("a full fill did not complete")
	}
}

// Overlapping parts: a part already held is skipped but still consumed, so
// the parts after it land in their places.
func TestPartialGroupExtendSkipsHeldParts(t *testing.T) {
	a, b := NewPartialGroup(9), NewPartialGroup(9)
	a.Fill(AllParts)
	b.Fill(0b0000_0010)
	enc, _ := a.Encode(0)
	added, done, err := b.Extend(enc)
	if err != nil || added != 0b1111_1101 || !done {
		t.Fatalf("added %08b done %v err %v", added, done, err)
	}
	for i := range NumParts {
		if !bytes.Equal(b.parts[i], PartContent(9, i)) {
			t.Fatalf("part %d misplaced", i)
		}
	}
}

func TestPartialGroupExtendRejectsMalformed(t *testing.T) {
	g := NewPartialGroup(5)
	good, _ := func() ([]byte, byte) { h := NewPartialGroup(5); h.Fill(0b11); return h.Encode(0) }()
	other, _ := func() ([]byte, byte) { h := NewPartialGroup(6); h.Fill(0b1); return h.Encode(0) }()
	for name, in := range map[string][]byte{
		"empty":       nil,
		"short":       good[:8],
		"other group": other,
		"truncated":   append(append([]byte{}, good[:len(good)-9]...), GroupIDBytes(5)...),
		"extra":       append(append(append([]byte{}, good[:len(good)-8]...), 0), GroupIDBytes(5)...),
		"no bitmap":   append([]byte{0}, GroupIDBytes(5)...),
	} {
		if _, _, err := g.Extend(in); !errors.Is(err, ErrBadPartial) {
			t.Errorf("%s: err %v", name, err)
		}
		if g.Have() != 0 {
			t.Fatalf("%s changed the group", name)
		}
	}
	if _, err := ParseMetadata([]byte{1, 2}); !errors.Is(err, ErrBadPartial) {
		t.Error("two-byte metadata accepted")
	}
	if _, err := ParseGroupID([]byte{1}); !errors.Is(err, ErrBadPartial) {
		t.Error("one-byte group id accepted")
	}
}

func TestPartialGroupsGetOrCreate(t *testing.T) {
	var s PartialGroups
	g, created := s.Get("t", 3)
	if !created || g.GroupID() != 3 {
		t.Fatal("not created")
	}
	if h, created := s.Get("t", 3); created || h != g {
		t.Fatal("created twice")
	}
	if s.Lookup("u", 3) != nil {
		t.Fatal("topics share groups")
	}
}

// FuzzPartialExtend: any bytes off the wire either merge into the group or
// are refused with ErrBadPartial leaving it unchanged; never a panic.
func FuzzPartialExtend(f *testing.F) {
	h := NewPartialGroup(77)
	h.Fill(0b1001)
	enc, _ := h.Encode(0)
	f.Add(enc)
	f.Add([]byte{})
	f.Add(append([]byte{1}, GroupIDBytes(77)...))
	f.Add(append(append([]byte{1}, make([]byte, PartLen)...), GroupIDBytes(77)...))
	f.Fuzz(func(t *testing.T, data []byte) {
		g := NewPartialGroup(77)
		g.Fill(0b0001)
		before := g.Have()
		added, _, err := g.Extend(data)
		if err != nil {
			if !errors.Is(err, ErrBadPartial) || g.Have() != before {
				t.Fatalf("err %v, have %08b", err, g.Have())
			}
			return
		}
		if g.Have() != before|added || added&before != 0 {
			t.Fatalf("added %08b to %08b, have %08b", added, before, g.Have())
		}
	})
}

// The completion record holds the exact substring the plans' check counts.
func TestAllPartsReceivedRecord(t *testing.T) {
	var buf bytes.Buffer
	r := NewRecorder(&buf)
	r.AllPartsReceived(time.Now(), 42)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if s := buf.String(); !strings.Contains(s, `"msg":"All parts received"`) || !strings.Contains(s, `"group id":42`) {
		t.Fatalf("record %s", s)
	}
}
