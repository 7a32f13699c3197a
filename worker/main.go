//go:build js && wasm

package main

import (
	"encoding/json"
	"fmt"
	"runtime/debug"
	"sync"
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
	api.Set("run", js.FuncOf(run))
	api.Set("resume", js.FuncOf(resume))
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

// call runs an edge function without I/O: call(name, inputJSON) returns
// its JSON.
func call(_ js.Value, args []js.Value) (out any) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf(`{"fault":{"kind":"panic","message":%q}}`, fmt.Sprint(r))
		}
	}()
	if msg := checkArgs(args, 2); msg != "" {
		return msg
	}
	return string(core.Call(args[0].String(), []byte(args[1].String())))
}

func checkArgs(args []js.Value, n int) string {
	if core == nil {
		return `{"fault":{"kind":"input","message":"init was not called"}}`
	}
	if len(args) != n {
		return `{"fault":{"kind":"input","message":"wrong number of arguments"}}`
	}
	return ""
}

// Waiting scripts: each operation a script asks for has a ticket, and the
// script's goroutine blocks on its channel until resume delivers the
// result.
var (
	mu      sync.Mutex
	tickets = map[int]chan edge.Result{}
	next    int
)

// run runs an edge script: run(name, inputJSON, perform) returns a
// Promise of its JSON answer. The script runs on its own goroutine; for
// each operation it calls perform(opJSON, ticket), and the shell answers
// with resume(ticket, resultJSON) once the operation settles. Nothing is
// run again: the goroutine continues where it waited.
func run(_ js.Value, args []js.Value) any {
	if msg := checkArgs(args, 3); msg != "" {
		return js.Global().Get("Promise").Call("resolve", msg)
	}
	name, in, perform := args[0].String(), []byte(args[1].String()), args[2]
	var executor js.Func
	executor = js.FuncOf(func(_ js.Value, p []js.Value) any {
		settle := p[0]
		executor.Release()
		go func() {
			settle.Invoke(string(core.Run(name, in, func(op edge.Op) edge.Result {
				return await(perform, op)
			})))
		}()
		return nil
	})
	return js.Global().Get("Promise").New(executor)
}

// await asks the shell to perform op and blocks until it answers.
func await(perform js.Value, op edge.Op) edge.Result {
	b, err := json.Marshal(op)
	if err != nil {
		return edge.Result{Error: "operation: " + err.Error()}
	}
	ch := make(chan edge.Result, 1)
	mu.Lock()
	next++
	t := next
	tickets[t] = ch
	mu.Unlock()
	perform.Invoke(string(b), t)
	return <-ch
}

// resume(ticket, resultJSON) delivers an operation's result to the script
// waiting for it.
func resume(_ js.Value, args []js.Value) any {
	if len(args) != 2 {
		return nil
	}
	t := args[0].Int()
	mu.Lock()
	ch, ok := tickets[t]
	delete(tickets, t)
	mu.Unlock()
	if !ok {
		return nil
	}
	var r edge.Result
	if err := json.Unmarshal([]byte(args[1].String()), &r); err != nil {
		r = edge.Result{Error: "result: " + err.Error()}
	}
	ch <- r
	return nil
}
