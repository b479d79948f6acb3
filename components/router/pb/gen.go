// Package pb holds the protobuf types of the pubsub wire format (RPC, Message,
// ControlMessage and its parts, the v1.3 extensions control message, the
// partial-messages extension RPC and the v1.4 large-message types: PREAMBLE,
// IMRECEIVING and fragments), generated from rpc.proto.
//
// The file is registered with the protobuf runtime as
// "meshbus/router/pb/rpc.proto" in the proto package meshbus.router.pb, so a
// program can link this package next to other pubsub implementations (which
// register "rpc.proto" in pubsub.pb) without a registration conflict.
//
// Regenerate with `go generate ./components/router/pb` (needs protoc and
// protoc-gen-go on PATH); the generated file is committed, so building needs
// neither. The -I mapping gives the file its unique registered path.
package pb

//go:generate protoc -Imeshbus/router/pb=. --go_out=. --go_opt=module=github.com/meshbus/meshbus/components/router/pb meshbus/router/pb/rpc.proto
