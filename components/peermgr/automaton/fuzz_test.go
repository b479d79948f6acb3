package automaton

import (
	"testing"

	"github.com/meshbus/meshbus/events"
)

// FuzzVerifyExchangeRecord: any bytes offered as a signed peer record are
// accepted only as a record signed by the claimed peer with at least one
// valid address, are otherwise rejected with a known reason, and never
// panic.
func FuzzVerifyExchangeRecord(f *testing.F) {
	ids := identities(f, 40, 3)
	f.Add(signedRecord(f, ids[1].priv, ids[1].id, addr(f, 1)), uint8(1))
	f.Add(signedRecord(f, ids[2].priv, ids[2].id, addr(f, 2), addr(f, 3)), uint8(2))
	f.Add(signedRecord(f, ids[1].priv, ids[1].id), uint8(1))
	f.Add(signedRecordWithRawAddr(f, ids[1].priv, ids[1].id, []byte{0xff, 0x01}), uint8(1))
	f.Add([]byte{}, uint8(0))
	f.Add([]byte{0x0a, 0x00}, uint8(1))
	known := map[string]bool{}
	for _, r := range rejectReasons {
		known[r] = true
	}
	f.Fuzz(func(t *testing.T, b []byte, who uint8) {
		claimed := ids[int(who)%len(ids)].id
		v, reason := verifyExchangeRecord(events.PeerExchangeRecord{Peer: claimed, SignedPeerRecord: b}, ids[0].id)
		if reason != "" {
			if !known[reason] {
				t.Fatalf("unknown reason %q", reason)
			}
			return
		}
		if v.ID != claimed || v.ID == ids[0].id || len(v.Addrs) == 0 {
			t.Fatalf("accepted %+v for claimed %s", v, claimed)
		}
		for _, a := range v.Addrs {
			if len(a) == 0 {
				t.Fatal("accepted an empty address")
			}
		}
	})
}
