// Package pb holds the protobuf types of the pubsub wire format (RPC, Message,
// ControlMessage and its parts), generated from rpc.proto.
//
// Regenerate with `go generate ./components/router/pb` (needs protoc and
// protoc-gen-go on PATH); the generated file is committed, so building needs
// neither.
package pb

//go:generate protoc --go_out=. --go_opt=paths=source_relative rpc.proto
