// Package pb holds the protobuf types of the pubsub wire format (RPC, Message,
// ControlMessage and its parts), generated from rpc.proto.
//
// Regenerate with `go generate ./components/router/pb` (needs protoc and
// protoc-gen-go on PATH); the generated file is committed, so building needs
// neither.
package pb

// The file is compiled from the module root so that it registers as
// "components/router/pb/rpc.proto": a bare "rpc.proto" collides with
// go-libp2p-pubsub's own in any binary that links both (interop tests,
// benchmarks against the reference).
//
//go:generate protoc -I ../../.. --go_out=../../.. --go_opt=paths=source_relative components/router/pb/rpc.proto
