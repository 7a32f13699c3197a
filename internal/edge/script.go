package edge

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Op is an operation a script asks the shell to perform.
type Op struct {
	// Kind: "d1" (one statement: Statement), "batch" (Statements in one D1
	// transaction), "object" (a method of an Aggregate Durable Object),
	// "projector" (an action of the projector object), "enqueue" (Arg sent
	// to the effects queue), "fetch" (an http effect's call: Arg is the
	// request Go has checked).
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
}

// Step is what a script run gives: the next operation, or Done with the
// script's answer.
type Step struct {
	Op   *Op `json:"op,omitempty"`
	Done any `json:"done,omitempty"`
}

// errPending ends a run at an operation the shell has not performed yet.
var errPending = errors.New("edge: waiting for the shell to perform an operation")

// host replays recorded results in order and records the first operation
// without one.
type host struct {
	results []Result
	n       int
	pending *Op
}

// do performs op: it decodes its recorded result into out, or records op
// and returns errPending. After one pending op every later do is pending
// too, so a script that ignores an error cannot run on past it.
func (h *host) do(op Op, out any) error {
	if h.pending != nil {
		return errPending
	}
	if h.n >= len(h.results) {
		h.pending = &op
		return errPending
	}
	r := h.results[h.n]
	h.n++
	if r.Error != "" {
		return &OpError{Op: op.Kind, Message: r.Error}
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
}

func (e *OpError) Error() string { return e.Op + ": " + e.Message }

// step ends a run: the pending op if there is one, else the answer.
func (h *host) step(done any) Step {
	if h.pending != nil {
		return Step{Op: h.pending}
	}
	return Step{Done: done}
}
