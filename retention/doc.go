// Package retention decides which events may leave a context's hot store:
// the one place the retention rules are written, shared by every runtime.
//
// # What it owns
//
//   - [Policy] and [Policies]: the rules a context declares (`retention`
//     on the context and per aggregate): keep events younger than a
//     duration, keep the last N events per instance, keep only what
//     follows the newest snapshot, and, on the context, a byte budget for
//     the hot log. [ParseDuration] reads the durations ("90d", "36h").
//   - [Of]: the policies a manifest declares, each rule checked at its
//     position (what `cuesource vet` reports through the compiler).
//   - [Decide]: given the policies, the hot log's size, the guards and a
//     window of hot events in position order, which of them leave now.
//
// # The rules
//
// With no rule nothing leaves. The keep rules (keepFor, keepLast,
// sinceSnapshot) each keep some events; an event that no declared keep
// rule keeps is due. The byte budget is a wall, not a preference: while
// the hot log is over it, the oldest events leave whatever the keep rules
// say. Whatever a rule says, the guards hold: an event leaves only once
// it is archived, projected by every projection, owes nothing to an
// effect (no outbox row, no dead letter), is not the head of the log
// (positions are numbered from the head), and every earlier event of its
// instance has left (an instance's hot history is always a suffix).
//
// # What it never does
//
// I/O: the caller reads the window and the guards and performs the
// deletions (store/sqlite natively; a Worker over D1 later).
package retention
