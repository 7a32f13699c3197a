// Package shell holds the JavaScript shell of the Workers runtime, the
// same for every context, which `cuesource worker build` writes beside the
// engine's wasm build and the compiled context.
//
// The shell routes requests and performs I/O (Durable Object storage, D1,
// Queues, fetch); every decision is made by the Go core (package edge)
// inside engine.wasm.
package shell

import _ "embed"

// Worker is worker.mjs, the Worker's main module.
//
//go:embed worker.mjs
var Worker []byte
