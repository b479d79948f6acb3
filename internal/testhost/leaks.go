package testhost

import "go.uber.org/goleak"

// ProcessGoroutines are the goleak options for the goroutines go-libp2p and
// its dependencies keep for the life of the process once a host has run
// (TCP reuse's collector, go-log's writer, OpenCensus's view worker): a
// package whose tests start hosts passes them to goleak.VerifyTestMain.
// Each call returns a new slice the caller may extend.
func ProcessGoroutines() []goleak.Option {
	return []goleak.Option{
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/transport/tcpreuse.(*ConnMgr).gcLoop"),
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"),
	}
}
