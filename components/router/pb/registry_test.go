package pb_test

import (
	"testing"

	gopb "github.com/libp2p/go-libp2p-pubsub/pb"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/meshbus/meshbus/components/router/pb"
)

// meshbus's wire types and go-libp2p-pubsub's are linked into one test
// binary (this one): it starts, so their registered file paths and full
// names differ, and each resolves to its own descriptor.
func TestRegistersBesideGoLibp2pPubsub(t *testing.T) {
	ours := (&pb.RPC{}).ProtoReflect().Descriptor().ParentFile()
	theirs := (&gopb.RPC{}).ProtoReflect().Descriptor().ParentFile()
	if ours.Path() == theirs.Path() {
		t.Fatalf("both register %q", ours.Path())
	}
	if ours.Path() != "meshbus/router/pb/rpc.proto" {
		t.Fatalf("registered as %q", ours.Path())
	}
	for _, f := range []interface {
		Path() string
		Package() protoreflect.FullName
	}{ours, theirs} {
		got, err := protoregistry.GlobalFiles.FindFileByPath(f.Path())
		if err != nil {
			t.Fatalf("%s: %v", f.Path(), err)
		}
		if got.Package() != f.Package() {
			t.Fatalf("%s resolves to package %s, want %s", f.Path(), got.Package(), f.Package())
		}
	}
}
