// Package edge is the pure core the Workers runtime calls: JSON in, JSON out.
//
// # What it owns
//
// Everything a Worker decides, so the JavaScript shell around the wasm
// build stays generic and thin: the HTTP API (through [api.Service], the
// same code the native server runs), a command's decision on an aggregate
// instance, seeding and rehydration, the forwarding of an instance's
// events to the global log in D1 (its SQL is package store/d1's), the projector's
// runs, effect deliveries and dead letters, and the live stream's frames.
//
// # How the shell drives it
//
// The shell calls the functions of [Core.Call] by name. Work that needs I/O
// is a script: it is run from the start with the results of the operations
// performed so far, and either finishes or names the next operation ([Op]:
// a D1 statement or batch, a call on a Durable Object, ...). The shell performs the operation in its own request
// context, appends the result and runs the script again. Scripts are
// deterministic given their input and results (the clock and ids come in
// the input), so Go keeps no state between calls: an isolate's Go runtime
// can be replaced at any time, and the objects' SQLite storage stays the
// only source of truth. Work without I/O (deciding a command inside a
// Durable Object's transaction) is one call.
//
// # What it never does
//
// syscall/js, or I/O of any kind: package worker binds it to JavaScript,
// and its tests run natively.
package edge
