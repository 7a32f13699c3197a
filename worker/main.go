//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"syscall/js"

	"github.com/cuesource/cuesource/internal/edge"
)

var core *edge.Core

func main() {
	// The live heap is small (the compiled context and one call's values)
	// and a Worker has 128 MB: collecting at 5x rather than 2x the live
	// heap makes a command's calls cheaper (BENCHMARKS.md, Workers).
	debug.SetGCPercent(400)
	api := js.Global().Get("Object").New()
	api.Set("init", js.FuncOf(initCore))
	api.Set("call", js.FuncOf(call))
	api.Set("crash", js.FuncOf(crash))
	js.Global().Set("cuesource", api)
	select {}
}

// initCore compiles the manifest: init(manifestJSON, configJSON) returns
// "" or the error.
func initCore(_ js.Value, args []js.Value) (out any) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprint("panic: ", r)
		}
	}()
	if len(args) != 2 {
		return "init takes the manifest and the config"
	}
	var cfg edge.Config
	if err := json.Unmarshal([]byte(args[1].String()), &cfg); err != nil {
		return "config: " + err.Error()
	}
	c, err := edge.New([]byte(args[0].String()), cfg)
	if err != nil {
		return err.Error()
	}
	core = c
	return ""
}

// call runs an edge function: call(name, inputJSON) returns its JSON.
func call(_ js.Value, args []js.Value) (out any) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf(`{"fault":{"kind":"panic","message":%q}}`, fmt.Sprint(r))
		}
	}()
	if core == nil {
		return `{"fault":{"kind":"input","message":"init was not called"}}`
	}
	if len(args) != 2 {
		return `{"fault":{"kind":"input","message":"call takes a name and an input"}}`
	}
	return string(core.Call(args[0].String(), []byte(args[1].String())))
}

// crash ends the Go runtime with a panic nothing recovers, as a fatal bug
// would: the shell's tests check that it starts a new one. The shell only
// calls it from its test switch.
func crash(js.Value, []js.Value) any {
	go func() { panic("crash provoked by the test switch") }()
	return nil
}
