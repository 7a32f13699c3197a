// Package check replays stored history through a context's lenses,
// reducers and projections without writing anything: the compatibility
// check behind `cuesource lens check`, run on an export of the log (or a
// live server's log) before a new definition is deployed over it.
//
// # What it owns
//
// The verdict on each stored event: it decodes, every lens from its stored
// version reads it (lens by lens, so a failure names its lens, and fused,
// which must agree), the payload fits the current #payload, the reducer
// applies and the state fits #state, and every projection handling it
// computes its row. Every failure is kept, with the event's position,
// stored type and version, the stage and the lens.
//
// # What it never does
//
// I/O: the caller feeds events in log order and prints the result.
package check
