// Package cuesource is the domain contract every runtime shares: what a
// command request is, how it is decided on an instance's snapshot
// ([Decide], [DecideSeed], [Compare]) and what that gives back (a
// [Decision]: the commit to append and an [Answer], with a typed
// [Rejection] when the command is refused), and what a runtime offers
// beside its commands (read models, dead letters, storage health) with the
// errors they return.
//
// It sits at the root of the graph of the runtime's packages: the HTTP
// layer (api) maps it to requests and responses; the native runtime
// (native), the Workers core (internal/edge), effects and projections
// implement or call it, and none of them imports api for it. It depends
// only on the engine, the program and the store's types.
//
// Deciding is pure: a backend holds the instance's single writer around a
// call of Decide and appends the commit it returns, so both runtimes
// answer every command the same way. A commit whose events reach a
// multiple of the aggregate's snapshot interval carries a snapshot of its
// state, taken by the same rule on both runtimes; [Rehydrate] folds an
// instance's events from the newest snapshot the current definition can
// use ([UsableSnapshot]), else from the first event.
package cuesource
