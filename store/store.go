package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Every implementation returns these (possibly wrapped) so
// callers can map them to protocol answers with errors.Is.
var (
	// ErrVersionConflict: Append's ExpectedVersion differs from the stored version.
	ErrVersionConflict = errors.New("store: version conflict")
	// ErrDuplicateKey: Append's idempotency key is already recorded.
	ErrDuplicateKey = errors.New("store: idempotency key already recorded")
	// ErrDuplicateEvent: an event id is already in the log.
	ErrDuplicateEvent = errors.New("store: duplicate event id")

	// ErrStorageFull: the medium holding the store is out of space. The
	// write that failed kept nothing; the same request can succeed once
	// space is freed.
	ErrStorageFull = errors.New("store: storage full")
	// ErrStorageFailed: the medium failed a read or a write (an I/O
	// error, a damaged or unwritable file). A write that failed kept
	// nothing.
	ErrStorageFailed = errors.New("store: storage failed")

	// ErrUniqueViolation: a commit claims a unique key another instance
	// holds; nothing of the commit is kept. The error is a *UniqueError.
	ErrUniqueViolation = errors.New("store: unique key held by another instance")

	// ErrArchiveUnreadable: a read needs events that left the hot store
	// and their archive segment is missing or damaged. The error names the
	// segment's position range; no event of it is returned.
	ErrArchiveUnreadable = errors.New("store: archived events unreadable")
)

// Event is one recorded event as the log keeps it: the version and type it
// was written with, never rewritten.
type Event struct {
	ID            string          `json:"id"`
	Position      int64           `json:"position"` // global, gap-free, assigned by Append
	Aggregate     string          `json:"aggregate"`
	Instance      string          `json:"instance"`
	Version       int64           `json:"version"` // per instance, 1-based, gap-free
	Type          string          `json:"type"`
	SchemaVersion int             `json:"schemaVersion"`
	Time          time.Time       `json:"time"`
	CommandID     string          `json:"commandId"`
	Payload       json.RawMessage `json:"payload"`
	Meta          json.RawMessage `json:"meta,omitempty"`
}

// Instance is the current snapshot of one aggregate instance.
type Instance struct {
	Aggregate string          `json:"aggregate"`
	ID        string          `json:"id"`
	Version   int64           `json:"version"` // 0: the instance does not exist
	State     json.RawMessage `json:"state,omitempty"`
}

// Idempotency records the outcome of a command under its key, so a retried
// request returns the first answer.
type Idempotency struct {
	Key         string          `json:"key"`
	RequestHash string          `json:"requestHash"` // detects the same key with another payload
	Response    json.RawMessage `json:"response"`
	Time        time.Time       `json:"time"`
}

// Commit is everything one command writes, atomically.
//
// A commit may carry no events (a command that changed nothing but still
// records its answer): ExpectedVersion is checked as usual, the version does
// not move, and on a missing instance no snapshot is created.
type Commit struct {
	Aggregate       string
	Instance        string
	ExpectedVersion int64           // the version the decision was made on; 0 for a new instance
	Events          []Event         // Position, Version, Aggregate and Instance are set by the store
	State           json.RawMessage // the new snapshot; nil leaves the stored one unchanged
	Idempotency     *Idempotency    // optional
	// Outbox lists the deliveries the events owe (an effect per event),
	// written with them so none is lost; a store with the [Outbox]
	// ability keeps them, others ignore them.
	Outbox []OutboxEntry
	// Snapshot, when set, is kept with the events (its Aggregate and
	// Instance are the commit's); a store with the [Snapshots] ability
	// keeps it, others ignore it. Its Version is the version the commit
	// reaches.
	Snapshot *Snapshot
	// Unique is what the commit does to the instance's unique keys,
	// applied with its events (a store with the [Keys] ability checks
	// and keeps them; a runtime whose context declares unique
	// constraints needs one). At most one per constraint.
	Unique []KeyClaim
}

// KeyClaim is what a commit does to the key its instance holds under one
// unique constraint: claims Key (replacing the key it held, if any), or,
// with Release, lets go of the key it holds.
type KeyClaim struct {
	Constraint string `json:"constraint"`
	Key        string `json:"key,omitempty"`
	Release    bool   `json:"release,omitempty"`
}

// UniqueError is a commit refused because another instance holds a key
// it claims: Holder is that instance's id.
type UniqueError struct {
	Aggregate, Constraint, Key, Holder string
}

func (e *UniqueError) Error() string {
	return fmt.Sprintf("unique %s of %s: key %q is held by %s", e.Constraint, e.Aggregate, e.Key, e.Holder)
}

func (e *UniqueError) Unwrap() error { return ErrUniqueViolation }

// OutboxEntry is one delivery an event owes to a consumer (an effect).
type OutboxEntry struct {
	EventID  string `json:"eventId"`
	Consumer string `json:"consumer"`
}

// Store is what a runtime needs from durable storage. Implementations must be
// safe for concurrent use.
type Store interface {
	// Load returns the snapshot of an instance; a missing instance is
	// Version 0 with nil State, not an error.
	Load(ctx context.Context, aggregate, id string) (Instance, error)
	// Append commits the events, the new state and the idempotency record in
	// one step, or nothing. It returns the events with Position and Version
	// set. Errors: ErrVersionConflict, ErrDuplicateKey, ErrDuplicateEvent.
	Append(ctx context.Context, c Commit) ([]Event, error)
	// Events returns up to limit of an instance's events with Version >
	// after, in order, ending the page as [Page] says. A limit <= 0 means
	// every one (nor a page's byte bound).
	Events(ctx context.Context, aggregate, id string, after int64, limit int) ([]Event, error)
	// ReadAll returns up to limit events of the global log with Position >
	// after, in Position order, ending the page as [Page] says. A limit <= 0
	// means no limit (nor a page's byte bound).
	ReadAll(ctx context.Context, after int64, limit int) ([]Event, error)
	// Idempotency returns the record stored under key, ok=false if none.
	Idempotency(ctx context.Context, key string) (rec Idempotency, ok bool, err error)
}

// PageBytes bounds what one page of events holds (of the global log, or of
// an instance), so a reader (GET /events, a live stream, a projection's
// catch-up, GET /{aggregate}/{id}/events) holds at most that much and one
// event in memory whatever the page's length: a page ends with the event
// that takes its payloads to PageBytes or past. A reader that wants more
// reads the next page, as it does anyway.
const PageBytes = 4 << 20

// PageSQL is the page rule for events in an SQL table with a payload
// column: it keeps the rows of a page (read in order, by the column order)
// whose payloads before them in the page are under the bound, given as
// the parameter named by bound. SQLite, D1 and a Durable Object's storage
// all run it.
func PageSQL(columns, where, order, limit, bound string) string {
	const size = `ifnull(length(CAST(payload AS BLOB)), 0)` // an event without a payload has none
	return `SELECT ` + columns + ` FROM (SELECT ` + columns + `, SUM(` + size + `) OVER (ORDER BY ` + order + ` ROWS UNBOUNDED PRECEDING) - ` + size + ` AS page_before FROM events WHERE ` + where + ` ORDER BY ` + order + ` LIMIT ` + limit + `) WHERE page_before < ` + bound + ` ORDER BY ` + order
}

// Page cuts evs, a page read in position order, by the rule of PageBytes.
func Page(evs []Event) []Event {
	var before int
	for i, e := range evs {
		if before >= PageBytes {
			return evs[:i]
		}
		before += len(e.Payload)
	}
	return evs
}

// Tables are the tables a runtime keeps in a store's database (see [SQL])
// beside the projections' own, which are named as the projections: the
// log and its size, snapshots, idempotency records, outbox and dead letters, the
// projections' checkpoints, and the unique keys instances hold. Sorted; no projection may take these names.
var Tables = []string{"archive_segments", "dead_letters", "events", "hot_log", "idempotency", "instances", "outbox", "projections", "snapshots", "unique_constraints", "unique_keys"}
