// Package lens composes an event's chain of lenses into one expression.
//
// # What it owns
//
// Fusion: a chain of steps (each lens's up, or each down in reverse),
// field-wise or whole, becomes one expr-lang tree over the stored payload
// (`event`). A step's `event.f` is replaced by the expression the step
// before gave f, so reading a version-0 event through ten lenses evaluates
// what the current version needs once, not ten intermediate payloads.
// Expressions a later step uses more than once are bound with `let`;
// values no later step uses are not computed. [Compile] turns the tree
// into a program with the caller's options, and [Carry] is the function
// fused trees call for fields carried over only when present.
//
// # What it never does
//
// Type checks, positions or the sequential reference: the interpreter
// checks and runs each lens on its own, and uses this package for the
// fast path. It does no I/O and holds no state.
package lens
