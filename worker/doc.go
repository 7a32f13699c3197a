//go:build js && wasm

// Command worker is the wasm entry of the Workers runtime: it binds
// package edge to JavaScript and is the only package that uses syscall/js.
//
// The shell (worker.mjs, written by `cuesource worker build`) instantiates
// the module once per isolate and calls the functions of the global
// `cuesource` object: init(manifest, config) compiles the context,
// call(name, input) runs one edge function, JSON in and JSON out, and
// run(name, input, perform) runs an edge script, whose operations the
// shell performs and answers with resume(ticket, result). All recover
// from panics, because an unrecovered panic ends the Go runtime for every
// object in the isolate; should the runtime end anyway, the shell sees it
// exit and instantiates a new one.
package main
