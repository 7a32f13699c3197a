// Package bench measures what interpretation costs.
//
// The engine decides a command by interpreting a compiled context: the
// payload is decoded into generic JSON values (value.Decode), checked against
// the command's #payload as a JSON Schema, and guards, emits, reducers and
// invariants run as compiled expr programs over map[string]any states. This
// package holds the baseline that cost is judged against: decider.go is the
// cart aggregate of contexts/example.cue written by hand in plain Go, with
// typed structs, encoding/json with DisallowUnknownFields, hand-written
// payload checks and no interpretation at all. TestDeciderAgrees runs both
// deciders over the same commands (accepted and rejected) and requires the
// same events, the same states and the same rejection names, so the baseline
// provably has the semantics of the CUE file.
//
// BenchmarkHandle times one AddItem on a cart holding five lines, from the
// command's JSON bytes and an in-memory current state to the events and the
// new state encoded as JSON bytes:
//
//	interpreted   engine.Decide on the decoded state value, then value.Encode
//	handwritten   Decide on a CartState struct, then value.Encode
//
// Both decide on the same current state every iteration (neither changes
// it), so nothing grows across iterations. The program is compiled once,
// outside the timed loop.
//
// BenchmarkInterpretedParts times the steps of the interpreted path one by
// one, to show where its time goes: decode (value.Decode of the payload),
// validate (Command.Validate, the JSON Schema), guards, emit, apply and
// invariants (the expr programs, through the exported interpreter pieces),
// guards+emit+apply (the three together), decide (all of engine.Decide,
// including the engine's own bookkeeping) and encode (value.Encode of the
// decision). BenchmarkHandwrittenParts does the same for the baseline.
//
// Run it with `make bench`; BENCHMARKS.md at the repository root records
// the latest figures.
package bench
