package engine

import (
	"fmt"
	"strings"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
)

// Kind classifies a rejection; runtimes map kinds to protocol answers. The
// kinds are the interpreter's (which checks the ones a scenario names), so
// no list of them is written twice.
type Kind = interpreter.Kind

// The kinds of rejection.
const (
	KindInvalidJSON      = interpreter.KindInvalidJSON
	KindTooLarge         = interpreter.KindTooLarge
	KindTooDeep          = interpreter.KindTooDeep
	KindSchema           = interpreter.KindSchema
	KindUnknownAggregate = interpreter.KindUnknownAggregate
	KindUnknownCommand   = interpreter.KindUnknownCommand
	KindUnknownEvent     = interpreter.KindUnknownEvent
	KindInstanceMissing  = interpreter.KindInstanceMissing
	KindInstanceExists   = interpreter.KindInstanceExists
	KindVersionConflict  = interpreter.KindVersionConflict
	KindGuard            = interpreter.KindGuard
	KindInvariant        = interpreter.KindInvariant
	KindBudget           = interpreter.KindBudget
	KindExpression       = interpreter.KindExpression
	KindInvalidState     = interpreter.KindInvalidState
	KindStateTooLarge    = interpreter.KindStateTooLarge
	KindEventTooLarge    = interpreter.KindEventTooLarge
	KindForbidden        = interpreter.KindForbidden
)

// Error is a rejected command or a failed replay.
type Error struct {
	Kind       Kind                    `json:"kind"`
	Name       string                  `json:"name,omitempty"` // the guard or invariant
	Message    string                  `json:"message"`
	Violations []interpreter.Violation `json:"violations,omitempty"`
	Version    int64                   `json:"version,omitempty"` // current version on a conflict
	Pos        *manifest.Pos           `json:"pos,omitempty"`     // the expression that failed
	// Status is the HTTP status the guard declares (0: the kind's).
	Status int `json:"status,omitempty"`
}

func (e *Error) Error() string {
	if len(e.Violations) == 0 {
		return e.Message
	}
	var b strings.Builder
	b.WriteString(e.Message)
	for _, v := range e.Violations {
		fmt.Fprintf(&b, "\n  %s", v)
	}
	return b.String()
}

// Is lets errors.Is match on kind: errors.Is(err, &engine.Error{Kind: engine.KindGuard}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && (t.Name == "" || t.Name == e.Name)
}
