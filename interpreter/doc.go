// Package interpreter turns a manifest into an executable [Program].
//
// # What it owns
//
// Every check that needs the meaning of a definition: each expression is
// compiled once with expr-lang/expr against a typed environment synthesised
// from the JSON Schemas (so `state.totl` fails with its position), guards
// and conditions must be boolean, emitted events must exist and their
// field-wise payloads must fit the event's #payload, reducers may only set
// declared state fields, scenarios must name what exists. Compile reports
// every problem as a [diag.List]; `cuesource vet` is the compiler followed
// by this.
//
// Each expression is compiled twice: once against the typed environment to
// check it, once against [Env] (untyped fields) to run it on decoded JSON
// values. Programs run under node and memory budgets, and panics in user
// expressions come back as positioned errors. JSON Schemas are compiled
// once by package jsonsubset, which validates and words violations in every
// runtime; a schema outside its subset is refused where it is declared.
// [CompileChecked] loads a manifest Compile accepted before (a Worker's
// cold start): no types built, no typed check, and each expression
// compiled on its first run rather than at load. What only Compile does
// (the typed check, scenarios, samples, the linter) is handed to compile
// as functions, so a Worker links none of it.
//
// A context's auth compiles to an [Auth]: #claims types `caller` for
// every rule and for guards and emits, and each rule (allow, read, query
// and log rules, query parameters bound from the caller) is compiled
// against the environment it runs in. CompileChecked compiles it too (a
// Worker enforces the same rules), its rules lazily like every other
// expression. Its declared metadata (auth's and a command's meta) is
// compiled with it; expressions read a declared name as meta.<name>,
// which a patch rewrites to meta.declared.<name> (Meta keeps one type),
// and vet types it by the context's expression ([Auth.Declared]
// evaluates it, [Recorded] stores it beside the actor).
//
// Each aggregate gets its snapshot interval in effect (its own, else the
// context's) and a [DefinitionHash] of what folds its events into its
// state, which a snapshot records so that a changed definition ignores
// the snapshots of the old one.
//
// # What it never does
//
// I/O, CUE evaluation, or deciding what a command means: the engine strings
// the compiled pieces together. A [Program] is immutable and safe for
// concurrent use.
package interpreter
