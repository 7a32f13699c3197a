//go:build js && wasm

// Command worker is the wasm entry of the Workers runtime: it binds
// package edge to JavaScript and is the only package that uses syscall/js.
//
// The shell (worker.mjs, written by `cuesource worker build`) instantiates
// the module once per isolate and calls two functions on the global
// `cuesource` object: init(manifest, config) compiles the context, and
// call(name, input) runs one edge function, JSON in and JSON out. Both
// recover from panics, because an unrecovered panic ends the Go runtime for
// every object in the isolate; should the runtime end anyway, the shell
// sees it exit and instantiates a new one.
package main
