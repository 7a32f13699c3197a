package edge

import (
	"encoding/json"
	"fmt"

	"github.com/cuesource/cuesource/interpreter"
)

// Op is an operation a script asks the shell to perform.
type Op struct {
	// Kind: "d1" (one statement: Statement), "batch" (Statements in one D1
	// transaction), "object" (a method of an Aggregate Durable Object:
	// transact, or runScript to run a script there), "transact" (the
	// local object's transact, on the script's own Go runtime: a commit
	// that must not outlive the runtime that reserved its keys),
	// "projector" (an action of the projector object), "enqueue" (Arg sent
	// to the effects queue), "fetch" (an http effect's call, or a JWKS:
	// Arg is the request Go has checked), "verify" (a token's signature,
	// by WebCrypto: Arg is a verifyArg, the result a boolean).
	Kind       string      `json:"kind"`
	Statement  *Statement  `json:"statement,omitempty"`
	Statements []Statement `json:"statements,omitempty"`
	Aggregate  string      `json:"aggregate,omitempty"`
	ID         string      `json:"id,omitempty"`
	Method     string      `json:"method,omitempty"`
	Arg        any         `json:"arg,omitempty"`
}

// Statement is one D1 statement with positional parameters (?1, ?2, ...).
type Statement struct {
	SQL    string `json:"sql"`
	Params []any  `json:"params"`
}

// Result is the outcome of an Op as the shell reports it: OK holds the
// value (for d1, the column names and the rows; for batch, one row list per
// statement; for object and projector, what the method returned; for fetch,
// the reply), Error what went wrong.
type Result struct {
	OK    json.RawMessage `json:"ok,omitempty"`
	Error string          `json:"error,omitempty"`
	// Ended, with Error, says an object's transact failed because the Go
	// runtime that ran its function ended: the transaction rolled back.
	Ended bool `json:"ended,omitempty"`
}

// Perform has the shell perform an operation and waits for its result. In
// the Worker it blocks the script's goroutine until the shell's promise
// settles (package worker); in tests it reads a transcript.
type Perform func(Op) Result

// host is a script's access to the shell.
type host struct {
	perform Perform
	prog    *interpreter.Program // which commands read the keys their instance holds
	faults  *testFaults          // the test switches; nil when off
}

// do performs op and decodes its result into out.
func (h *host) do(op Op, out any) error {
	if (op.Kind == "d1" || op.Kind == "batch") && h.faults.d1() {
		return &OpError{Op: op.Kind, Message: "D1 is failing (test switch)"}
	}
	r := h.perform(op)
	if r.Error != "" {
		return &OpError{Op: op.Kind, Message: r.Error, Ended: r.Ended}
	}
	if out == nil || len(r.OK) == 0 {
		return nil
	}
	if err := json.Unmarshal(r.OK, out); err != nil {
		return fmt.Errorf("the result of %s: %w", op.Kind, err)
	}
	return nil
}

// OpError is an operation that failed in the shell.
type OpError struct {
	Op      string
	Message string
	Ended   bool // Result.Ended
}

func (e *OpError) Error() string { return e.Op + ": " + e.Message }

// transact has the object of agg/id run t (its method transact). A
// transaction whose function's Go runtime ended rolled back, so it is run
// once more, on the runtime the object starts next; a second end is
// reported.
func (h *host) transact(agg, id string, t transact, out any) error {
	op := Op{Kind: "object", Aggregate: agg, ID: id, Method: "transact", Arg: t}
	err := h.do(op, out)
	if oe, ok := err.(*OpError); ok && oe.Ended {
		err = h.do(op, out)
	}
	return err
}
