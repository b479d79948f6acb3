// Package netrun runs the libp2p GossipSub interop test plans on one Linux
// machine, in place of the Shadow simulator the plans use: each node in its
// own network and UTS namespace with its own address and host name nodeN,
// linked through a hub namespace by veth pairs, every link shaped with tc
// tbf and delayed (netem where the kernel has it, else a userspace relay
// that delays every frame by the same rule), and it analyses the nodes'
// NDJSON logs into the plans' three figures: reliability, dissemination
// latency and duplicates, overall and per implementation.
//
// Setup, the relay and Run need Linux, root and iproute2; Check says which
// is missing. The scenario generator and the analysis are portable.
package netrun
