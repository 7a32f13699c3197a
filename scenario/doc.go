// Package scenario runs a context's given/when/then scenarios on the engine
// and explains failures as readable differences.
//
// A scenario folds its given events into a state (through the reducers, as a
// replay would), sends its commands in order with a fixed clock and derived
// command ids, and compares the outcome with then: the events emitted (type
// and, where given, payload), the listed top-level state fields, or the
// rejection (by guard or invariant name, or by kind). Engine checks run
// strict: every payload and state is validated against its schema.
//
// [RunHTTP] plays the same scenarios against a running server or Worker
// over its HTTP API (`cuesource test --url`): the given events are written
// through the admin seed endpoint, each run on a fresh instance.
package scenario
