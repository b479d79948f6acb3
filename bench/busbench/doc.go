// Package busbench holds the event-bus benchmark scenarios shared by
// `go run ./bench` (a table with ratios and PASS/MISS targets) and
// `go test -bench . ./bench/...` (benchstat-comparable benchmarks).
//
// Two scenarios:
//
//   - Throughput: one emitter, Subs subscribers each drained by its own
//     goroutine. The cost of a run is end to end: emit N events, then wait
//     until every subscriber has received all N. Contenders are plain typed
//     channels (the floor), go-libp2p's basic bus (with and without its
//     Prometheus metrics tracer), and meshbus's bus through its typed API and
//     through its go-libp2p-compatible event.Bus API (with and without
//     metrics). meshbus subscriptions use the Block policy so that every
//     contender delivers every event: the same work, no event lost.
//
//   - Stall: one subscriber never reads (under Block, and on go-libp2p's bus,
//     which always blocks, it reads one event per SlowPeriod instead, since a
//     subscriber that never reads would stop the emitter for good). The
//     emitter times every Emit; the healthy subscribers must receive every
//     event.
//
// Suite interleaves the contenders of a cell (same subscriber count and
// buffer) over several rounds and reports medians, so that the noise of a
// small shared machine hits every contender alike.
package busbench
