package partial

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/meshbus/meshbus/components/router/wire"
)

// FuzzHandleRPC feeds decoded frames (any bytes) to the extensions and
// partial-messages handlers, as the driver does, and checks that nothing
// panics and every structure stays within its configured bound.
func FuzzHandleRPC(f *testing.F) {
	f.Add([]byte{0x52, 0x08, 0x0a, 0x01, 't', 0x12, 0x01, 'g', 0x22, 0x01, 0x01}, true)
	f.Add([]byte{0x1a, 0x04, 0x32, 0x02, 0x50, 0x01}, true)                   // control.extensions{partialMessages}
	f.Add([]byte{0x1a, 0x05, 0x32, 0x03, 0x50, 0x01, 0x00}, false)            // truncated
	f.Add([]byte{0x52, 0x06, 0x0a, 0x01, 't', 0x1a, 0x01, 0xff}, false)       // parts, no group
	f.Add([]byte{0x0a, 0x07, 0x08, 0x01, 0x12, 0x01, 't', 0x18, 0x01}, false) // subopts requestsPartial
	cfg := DefaultConfig()
	cfg.MaxPeerGroupsPerPeer, cfg.MaxPeerGroupsPerTopic, cfg.MaxMetadataSize, cfg.MaxPartsSize = 2, 3, 16, 64
	f.Fuzz(func(t *testing.T, frame []byte, first bool) {
		rpc, err := wire.DecodeRPC(frame)
		if err != nil {
			return
		}
		c, out := newCore(t, cfg, 2)
		for i := range 3 {
			from := pid(1 + i%2)
			out.Reset()
			c.HandleExtensions(t0, from, ProtocolV13, first && i == 0, rpc.GetControl().GetExtensions(), out)
			for _, s := range rpc.GetSubscriptions() {
				c.HandleSubOpts(from, s.GetTopicid(), s.GetSubscribe(), s.GetRequestsPartial(), s.GetSupportsSendingPartial())
			}
			if p := rpc.GetPartial(); p != nil {
				if o := c.HandlePartial(t0, from, p, out); o == OutcomePartialAccepted || o == OutcomePartialGroupOpened {
					d := out.Deliveries[0]
					c.Merged(t0, from, d.Topic, d.GroupID, MergeResult{Added: len(d.Parts) > 0}, []peer.ID{pid(1), pid(2)}, out)
				}
			}
			c.Heartbeat(out)
		}
		s := c.Sizes()
		if s.PeerOpenedGroups > cfg.MaxPeerGroupsPerTopic || s.MaxMetadata > cfg.MaxMetadataSize || s.Groups > cfg.MaxPeerGroupsPerTopic+cfg.MaxLocalGroupsPerTopic {
			t.Fatalf("unbounded: %+v", s)
		}
	})
}
