// Package pb holds the protobuf types of the pubsub wire format (RPC, Message,
// ControlMessage and its parts), generated from rpc.proto.
//
// Regenerate with `go generate ./components/router/pb` (needs protoc and
// protoc-gen-go on PATH); the generated file is committed, so building needs
// neither.
//
// The file registers in the protobuf registry as
// "meshbus/router/pb/rpc.proto" (protoc maps that virtual path onto this
// directory), not as "rpc.proto": go-libp2p-pubsub registers its own
// rpc.proto under the bare name, and two files with one path make the
// program panic at start-up, so a process may link both.
package pb

//go:generate protoc --proto_path=meshbus/router/pb=. --go_out=. --go_opt=module=github.com/meshbus/meshbus/components/router/pb meshbus/router/pb/rpc.proto
