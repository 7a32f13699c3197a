package interpreter

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/cuesource/cuesource/manifest"
)

// Budgets for user expressions. MaxNodes bounds an expression's size at
// compile time; MemoryBudget bounds what one evaluation may allocate in
// ranges, maps and lists (expr has no unbounded loops otherwise).
const (
	MaxNodes     = 2000
	MemoryBudget = 100_000
)

// ErrBudget is wrapped by an EvalError whose expression ran out of budget.
var ErrBudget = errors.New("expression budget exceeded")

// Env is the environment expressions run in. Which fields an expression may
// use depends on where it is written (see the package documentation); vet
// enforces that with typed environments, so at run time the fields are
// plain decoded JSON.
type Env struct {
	Cmd       any  `expr:"cmd"`
	State     any  `expr:"state"`
	Event     any  `expr:"event"`
	Meta      Meta `expr:"meta"`
	Row       any  `expr:"row"`       // projections: the current row, {} when new
	Vars      any  `expr:"env"`       // effects: the declared env variables
	Rejection any  `expr:"rejection"` // effects' onReject: {kind, name, message}
	Caller    any  `expr:"caller"`    // rules: the verified claims (#claims)
	Lookup    any  `expr:"lookup"`    // a command's look-ups, by name
	// Budget is what the expressions of one command, projected event,
	// delivery or read may still spend; nil gives each run a budget of its
	// own.
	Budget *Budget `expr:"_budget_"`
}

// Meta describes the command or event being handled. Everything in it comes
// from the command envelope or the log, never from a clock or a random
// source.
type Meta struct {
	Aggregate   string `expr:"aggregate" json:"aggregate"`
	AggregateID string `expr:"aggregateId" json:"aggregateId"`
	Version     int    `expr:"version" json:"version"` // state version decided on; in a reducer, the event's version
	Command     string `expr:"command" json:"command"`
	CommandID   string `expr:"commandId" json:"commandId"`
	EventID     string `expr:"eventId" json:"eventId,omitempty"`
	EventType   string `expr:"eventType" json:"eventType,omitempty"`
	Position    int    `expr:"position" json:"position,omitempty"` // in the global log, when reading it
	Timestamp   string `expr:"timestamp" json:"timestamp"`         // RFC 3339, from the envelope
	// Who did it and which process it belongs to, in a context with auth
	// (see Recorded); "" without.
	Actor         string `expr:"actor" json:"actor,omitempty"`
	CorrelationID string `expr:"correlationId" json:"correlationId,omitempty"`
	CausationID   string `expr:"causationId" json:"causationId,omitempty"`
	// Declared is the context's declared metadata, read as meta.<name>
	// (see metaPatch).
	Declared map[string]any `expr:"declared" json:"declared,omitempty"`
}

// EvalError is a failure while running an expression, positioned in the
// context file.
type EvalError struct {
	Pos manifest.Pos
	Msg string
	err error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.Pos.String(), e.Pos.Path, e.Msg)
}

func (e *EvalError) Unwrap() error { return e.err }

// expression is one compiled expression, ready to run.
type expression struct {
	prog *vm.Program
	pos  manifest.Pos
	lazy *lazyProgram // instead of prog: compiled on first use (CompileChecked)
}

// lazyProgram is a program compiled on its first run. A Worker loads a
// manifest that Compile accepted, so its cold start compiles nothing: each
// command, event and read-side definition compiles its expressions when
// it first runs. An error (none is expected) is the positioned one that
// Compile would have reported, given by every run.
type lazyProgram struct {
	once    sync.Once
	compile func() (*vm.Program, error)
	prog    *vm.Program
	err     error
}

// program returns x's program, compiling it on first use.
func (x *expression) program() (*vm.Program, error) {
	if x.lazy == nil {
		return x.prog, nil
	}
	l := x.lazy
	l.once.Do(func() { l.prog, l.err = l.compile() })
	return l.prog, l.err
}

var vms = sync.Pool{New: func() any { return &vm.VM{MemoryBudget: MemoryBudget} }}

// budgets are the budgets of runs whose caller gave none (a replay's
// reducers, a lens read): nothing keeps one after its run.
var budgets = sync.Pool{New: func() any { return new(Budget) }}

func (x *expression) run(env *Env) (any, error) {
	own := env.Budget == nil
	if own {
		b := budgets.Get().(*Budget)
		*b = Budget{limit: CostBudget}
		env.Budget = b
	}
	prog, err := x.program()
	if err != nil {
		return nil, err
	}
	m := vms.Get().(*vm.VM)
	out, err := m.Run(prog, env)
	vms.Put(m)
	if own {
		budgets.Put(env.Budget)
		env.Budget = nil
	}
	if err != nil {
		return nil, x.fail(err)
	}
	return out, nil
}

func (x *expression) fail(err error) *EvalError {
	e := &EvalError{Pos: x.pos, Msg: err.Error()}
	var fe *file.Error
	if errors.As(err, &fe) {
		e.Pos = offset(x.pos, fe.Line, fe.Column)
		e.Msg = fe.Message
		err = fe.Unwrap()
	}
	if errors.Is(err, ErrBudget) || strings.Contains(e.Msg, "memory budget exceeded") {
		e.err = ErrBudget
	} else {
		e.err = err
	}
	return e
}

// offset moves a position by an expression-relative line (1-based) and
// column (0-based), as expr reports them.
func offset(p manifest.Pos, line, col int) manifest.Pos {
	if line > 1 {
		p.Line += line - 1
	}
	p.Col += col
	return p
}
