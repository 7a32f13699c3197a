package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// The optional abilities below are found by type assertion on a [Store],
// as database/sql/driver finds a driver's: a runtime part that needs one
// asks for it, and goes without (or refuses to start) when the store has
// none. store/storetest checks each one a store has and skips the others.

// ErrInvalidCommit: a commit this store cannot record as given (for
// example a time outside the years it can write, or an event id that is
// not UTF-8). Like the other commit sentinels it fails only its own
// commit in a batch.
var ErrInvalidCommit = errors.New("store: invalid commit")

// BatchResult is the outcome of one commit of [Batcher.AppendBatch]: the
// recorded events, or the error that commit alone failed with.
type BatchResult struct {
	Events []Event
	Err    error
}

// Batcher is the optional ability to append many commits in one durable
// step (group commit): what a writer that queues concurrent commands
// gives its queue.
type Batcher interface {
	// AppendBatch appends the commits in order, all made durable
	// together. A commit that fails its checks is reported in its
	// BatchResult (ErrVersionConflict, ErrDuplicateKey,
	// ErrDuplicateEvent, ErrInvalidCommit) and the others are kept; a
	// later commit sees the effects of the earlier ones, as if appended
	// one by one. The returned error is a failure of the whole batch
	// (the medium, a cancelled context, a failing [Hook]): then nothing
	// is committed and there are no results.
	AppendBatch(ctx context.Context, commits []Commit) ([]BatchResult, error)
}

// SQL is the optional ability of a store kept in an SQL database that
// other runtime parts share: projections keep their tables there, in
// write transactions queued with the appends.
type SQL interface {
	// Write runs fn in a write transaction, queued with the appends; an
	// error from fn rolls it back and is returned. Faults of the medium
	// are marked with ErrStorageFull or ErrStorageFailed.
	Write(ctx context.Context, fn func(tx *sql.Tx) error) error
	// Read is a pool of read-only connections, beside the writer.
	Read() *sql.DB
}

// Hook runs inside every commit's transaction after its events are
// written (in a batch, after the earlier commits of the batch): what
// inline projections use to update their tables atomically with the
// events. An error fails the commit's transaction (in a batch, the whole
// batch). It is not called for a commit without events.
type Hook func(ctx context.Context, tx *sql.Tx, events []Event) error

// Hooker is the optional ability of an [SQL] store to run a [Hook] in its
// append transactions.
type Hooker interface {
	SQL
	// SetHook installs the hook; call it before the first Append. A
	// failing hook's error is returned by Append (wrapped), and nothing
	// of the commit is kept.
	SetHook(Hook)
}

// Health is what a store has seen of its medium since it opened.
type Health struct {
	// Failing: the last storage fault has not been followed by a write
	// that committed.
	Failing bool
	// Faults counts the storage faults since the store opened.
	Faults int64
	// LastFault and LastFaultAt are the last of them.
	LastFault   string
	LastFaultAt time.Time
}

// HealthReporter is the optional ability of a store to report the faults
// of its medium (those it marked with ErrStorageFull or
// ErrStorageFailed). A store without it reports none.
type HealthReporter interface {
	Health(ctx context.Context) Health
}

// Snapshot is an instance's state at a version, kept so that rehydration
// folds only the events after it. Hash identifies the definition that
// folded the state (interpreter.DefinitionHash): a snapshot is only good
// for a definition with the same hash.
type Snapshot struct {
	Aggregate string          `json:"aggregate"`
	Instance  string          `json:"instance"`
	Version   int64           `json:"version"`
	State     json.RawMessage `json:"state"`
	Hash      string          `json:"hash"`
	Time      time.Time       `json:"time"` // when it was taken
}

// Snapshots is the optional ability of a store to keep snapshots. A
// store without it ignores Commit.Snapshot, and rehydration folds every
// event. Snapshots never replace events: the log stays whole.
//
// A store keeps one snapshot per instance, the newest: a snapshot
// replaces the instance's snapshot at a version not after it, whatever
// that one's hash (a definition that changed never reads it again), and
// is dropped when the instance has a newer one. Snapshots are taken
// rarely (every N events), so one row per instance bounds what they cost.
type Snapshots interface {
	// SaveSnapshot keeps s. Errors: ErrInvalidCommit for a time the
	// store cannot write.
	SaveSnapshot(ctx context.Context, s Snapshot) error
	// Snapshot returns the newest snapshot of an instance taken under
	// hash; ok=false if it has none.
	Snapshot(ctx context.Context, aggregate, id, hash string) (s Snapshot, ok bool, err error)
}

// Keys is the optional ability to keep the unique keys instances hold:
// Append applies a commit's Unique claims in its transaction (refusing the
// commit with a *UniqueError when another instance holds a key it
// claims), and Holder reads who holds a key.
type Keys interface {
	// Holder gives the id of the instance of aggregate that holds key
	// under constraint; ok is false when none does.
	Holder(ctx context.Context, aggregate, constraint, key string) (id string, ok bool, err error)
}

// KeyRebuilder is the optional ability of a [Keys] store to have its keys
// rebuilt from the log: when an aggregate's unique constraints change, or
// on an operator's request. The runtime computes who holds what from the
// events (through their lenses); the store only replaces.
type KeyRebuilder interface {
	// KeyStatus gives what the aggregate's keys were last rebuilt for:
	// the hash of its unique declarations ("" when never) and the claims
	// that rebuild refused.
	KeyStatus(ctx context.Context, aggregate string) (KeyStatus, error)
	// ReplaceKeys replaces every key the instances of aggregate hold with
	// holds and records status, atomically, provided the log's last
	// position is still through (the log the holds were computed from);
	// otherwise it changes nothing and returns ErrVersionConflict.
	ReplaceKeys(ctx context.Context, aggregate string, holds []KeyHold, status KeyStatus, through int64) error
}

// KeyHold is a unique key an instance holds.
type KeyHold struct {
	Constraint string `json:"constraint"`
	Key        string `json:"key"`
	Instance   string `json:"instance"`
}

// KeyStatus is what an aggregate's keys were last rebuilt for.
type KeyStatus struct {
	// Hash identifies the unique declarations (and the lenses of the
	// events they read) the keys were computed with.
	Hash string `json:"hash"`
	// Conflicts are the claims in the log the rebuild could not honour:
	// events written before the constraint existed that claim a key an
	// earlier event's instance held.
	Conflicts []KeyConflict `json:"conflicts,omitempty"`
}

// KeyConflict is a claim in the log that a rebuild refused: the event at
// Position of Instance claims Key, which Holder held then.
type KeyConflict struct {
	Constraint string `json:"constraint"`
	Key        string `json:"key"`
	Holder     string `json:"holder"`
	Instance   string `json:"instance"`
	Position   int64  `json:"position"`
}
