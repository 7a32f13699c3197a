// Package bench measures what cuesource costs, each time against a
// baseline: the interpreter against the same aggregate written by hand,
// durable commands against raw SQLite, lens chains against the same
// conversion in one lens and in Go, replay against an already current log,
// a command that claims a unique key against the same command without the
// constraint.
//
// Its one non-test file, decider.go, is the hand-written baseline: the cart
// aggregate of contexts/example.cue in plain Go (typed structs,
// encoding/json with DisallowUnknownFields, hand-written payload checks, no
// interpretation). TestDeciderAgrees runs it and the engine over the same
// commands, accepted and rejected, and requires the same events, states
// and rejection names, so the baseline provably has the semantics of the
// CUE file; TestLensChainsAgree and TestReplayAgrees check likewise that
// every way a benchmark compares gives the same answer before it is timed.
//
// BENCHMARKS.md at the repository root says what each benchmark here
// measures and how to run it (`make bench` and its kin), and records the
// latest figures. The Workers runtime's benchmark is bench/workers
// (`make bench-workers`), in JavaScript under workerd.
package bench
