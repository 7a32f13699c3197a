package engine

import (
	"fmt"
	"strings"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
)

// Kind classifies a rejection; runtimes map kinds to protocol answers.
type Kind string

const (
	KindInvalidJSON      Kind = "invalid_json"
	KindTooLarge         Kind = "too_large"
	KindTooDeep          Kind = "too_deep"
	KindSchema           Kind = "schema"
	KindUnknownAggregate Kind = "unknown_aggregate"
	KindUnknownCommand   Kind = "unknown_command"
	KindUnknownEvent     Kind = "unknown_event"
	KindInstanceMissing  Kind = "instance_missing"
	KindInstanceExists   Kind = "instance_exists"
	KindVersionConflict  Kind = "version_conflict"
	KindGuard            Kind = "guard"
	KindInvariant        Kind = "invariant"
	KindBudget           Kind = "budget_exceeded"
	KindExpression       Kind = "expression_failed"
	KindInvalidState     Kind = "invalid_state"
	// A command whose resulting state or an event payload is over the
	// context's limits (checked where the result is encoded: cuesource.Decide).
	KindStateTooLarge Kind = "state_too_large"
	KindEventTooLarge Kind = "event_too_large"
)

// Error is a rejected command or a failed replay.
type Error struct {
	Kind       Kind                    `json:"kind"`
	Name       string                  `json:"name,omitempty"` // the guard or invariant
	Message    string                  `json:"message"`
	Violations []interpreter.Violation `json:"violations,omitempty"`
	Version    int64                   `json:"version,omitempty"` // current version on a conflict
	Pos        *manifest.Pos           `json:"pos,omitempty"`     // the expression that failed
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
