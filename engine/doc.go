// Package engine decides commands and evolves state: the pure core of the
// runtime.
//
// # What it owns
//
// The semantics of a command, in this order: decode the payload within
// limits, validate it against #payload (every violation), check the
// instance rule and the expected version, run the guards in order (the
// first false one names the rejection), build the events of every emit whose
// condition holds (all emits see the state before the command), apply each
// event with its reducer, then check the invariants on the result. Any
// failure is an [*Error] of a [Kind] and nothing is returned to persist.
//
// # What it never does
//
// I/O, reading a clock, or making random numbers: the command's id and time
// come in on the [Envelope], and event ids and timestamps are derived from
// them, so a replay, the native server and the Workers runtime all compute
// the same events and state. Storage, HTTP and Workers glue live around it.
package engine
