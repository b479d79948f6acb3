package router

import (
	"testing"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	pubsubpb "github.com/libp2p/go-libp2p-pubsub/pb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/meshbus/meshbus/components/router/pb"
)

// This test binary links both meshbus's router (and its pb package) and
// go-libp2p-pubsub v0.19.0. Before the registered path was made unique, the
// protobuf runtime panicked at init ("proto: file rpc.proto is already
// registered"), so reaching this test at all is half of the proof; the other
// half is that both files are registered, under distinct paths and package
// names, and each resolves to its own message types.
func TestProtoRegistrationCoexistsWithGoPubsub(t *testing.T) {
	ours, err := protoregistry.GlobalFiles.FindFileByPath("meshbus/router/pb/rpc.proto")
	if err != nil {
		t.Fatalf("meshbus rpc.proto not registered under its unique path: %v", err)
	}
	if ours.Package() != "meshbus.router.pb" {
		t.Fatalf("meshbus proto package %q", ours.Package())
	}
	theirs, err := protoregistry.GlobalFiles.FindFileByPath("rpc.proto")
	if err != nil {
		t.Fatalf("go-libp2p-pubsub rpc.proto not registered: %v", err)
	}
	if theirs.Package() == ours.Package() {
		t.Fatalf("both files in proto package %q", ours.Package())
	}
	for _, c := range []struct {
		m    protoreflect.ProtoMessage
		want protoreflect.FullName
	}{
		{&pb.RPC{}, "meshbus.router.pb.RPC"},
		{&pubsubpb.RPC{}, "pubsub.pb.RPC"},
	} {
		if got := c.m.ProtoReflect().Descriptor().FullName(); got != c.want {
			t.Fatalf("descriptor %q, want %q", got, c.want)
		}
		if _, err := protoregistry.GlobalTypes.FindMessageByName(c.want); err != nil {
			t.Fatalf("%s not in the global type registry: %v", c.want, err)
		}
	}
	// Both libraries work in the same process: an RPC marshalled by
	// go-libp2p-pubsub's types decodes into ours with the same fields.
	topic := "t"
	b, err := proto.Marshal(&pubsubpb.RPC{
		Subscriptions: []*pubsubpb.RPC_SubOpts{{Topicid: &topic, Subscribe: proto.Bool(true)}},
		Publish:       []*pubsubpb.Message{{Topic: &topic, Data: []byte("x")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var got pb.RPC
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.GetSubscriptions()[0].GetTopicid() != topic || string(got.GetPublish()[0].GetData()) != "x" {
		t.Fatalf("decoded %v", &got)
	}
	if pubsub.GossipSubID_v13 != "/meshsub/1.3.0" {
		t.Fatalf("go-libp2p-pubsub v1.3 id %q", pubsub.GossipSubID_v13)
	}
}
