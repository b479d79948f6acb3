package harness

import (
	"testing"
)

// FuzzJSPeerLine feeds arbitrary stdout lines to a JSPeer: whatever the
// child process prints, the harness records it or notes it, never panics,
// and a reply wakes only the command it answers.
func FuzzJSPeerLine(f *testing.F) {
	f.Add([]byte(`{"event":"ready","peerId":"12D3KooWEnLjTwab7UXT67DBuoYfUjQ7AGnjuUdnwUGBWqGR3qkK","addrs":["/ip4/127.0.0.1/tcp/39619/p2p/12D3KooWEnLjTwab7UXT67DBuoYfUjQ7AGnjuUdnwUGBWqGR3qkK"]}`))
	f.Add([]byte(`{"event":"message","topic":"t","from":"12D3KooWNcXtxJ8Hj9cX64Lr8Fkeb9a9AsaLrr7mnh4onRhuCVkh","data":"aGVsbG8=","id":"ACQIARIg","seqno":"ddf84c5e9c92c68d","receivedFrom":"x"}`))
	f.Add([]byte(`{"event":"mesh","req":1,"topic":"t","peers":["a"],"protocols":{"b":"/meshsub/1.2.0"},"scores":{"c":-1.5}}`))
	f.Add([]byte(`{"event":"stats","req":2,"received":1,"duplicates":0,"invalid":0,"idontwant":{"p":{"ids":3,"known":2}}}`))
	f.Add([]byte(`{"event":"graft","peer":"p","topic":"t","direction":"inbound"}`))
	f.Add([]byte(`{"event":"invalid","from":"p","topic":"t","error":"invalid_signature"}`))
	f.Add([]byte(`{"event":"error","req":18446744073709551615,"error":"boom"}`))
	f.Add([]byte(`{"event":"message","data":"not base64!"}`))
	f.Add([]byte(`not json`))
	f.Add([]byte(`{"req":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := newJSPeer("fuzz")
		ch := make(chan line, 1)
		p.pending[1] = ch
		if l, ok := p.handleLine(b, true); ok {
			_ = p.setIdentity(l) // an error for a bad id or address, never a panic
		}
		p.handleLine(b, false)
		select {
		case l := <-ch:
			if l.Req == nil || *l.Req != 1 {
				t.Fatalf("command 1 woken by a reply to %v", l.Req)
			}
		default:
		}
		_ = p.Messages()
		_ = p.Events()
	})
}
