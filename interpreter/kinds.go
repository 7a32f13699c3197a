package interpreter

// Kind classifies a rejection of a command; runtimes map kinds to protocol
// answers. The engine gives them (engine.Kind is this type); they live here
// because vet checks the ones a scenario names.
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

// ErrorKinds are the rejection kinds a scenario's then.error may name
// besides guard and invariant names.
var ErrorKinds = kindNames(KindSchema, KindUnknownCommand, KindInstanceMissing, KindInstanceExists,
	KindBudget, KindExpression, KindVersionConflict, KindInvalidState)

func kindNames(ks ...Kind) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}
