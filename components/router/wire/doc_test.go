package wire_test

import (
	"bytes"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/meshbus/meshbus/components/router/pb"
	"github.com/meshbus/meshbus/components/router/wire"
)

// A frame written by a Writer is read back by a Reader with the same limit.
func Example() {
	var stream bytes.Buffer
	w := wire.NewWriter(&stream, wire.DefaultMaxRPCSize)
	_ = w.WriteRPC(&pb.RPC{Subscriptions: []*pb.RPC_SubOpts{{Subscribe: proto.Bool(true), Topicid: proto.String("blocks")}}})

	r := wire.NewReader(&stream, wire.DefaultMaxRPCSize)
	rpc, err := r.ReadRPC()
	fmt.Println(rpc.GetSubscriptions()[0].GetTopicid(), err)
	// Output: blocks <nil>
}
