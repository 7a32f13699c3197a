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
// Given events may happen to other instances: they leave the scenario's
// own instance as it is and feed the read side. A scenario that expects
// the read side (a query's rows, a projection's row) plays its history
// on a runtime of its own, a fresh SQLite database with the projections
// over it (native, projections), and catches the projections up before
// it reads them.
//
// [RunHTTP] plays the same scenarios against a running server or Worker
// over its HTTP API (`cuesource test --url`): the given events are written
// through the admin seed endpoint, each run on fresh instances, and the
// read side is read once its projections hold the scenario's events.
package scenario
