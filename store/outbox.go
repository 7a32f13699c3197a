package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// ErrNoDeadLetter: no dead letter has the id given.
var ErrNoDeadLetter = errors.New("store: no such dead letter")

// Outbox is the optional ability of a store to keep the deliveries a
// commit owes ([Commit].Outbox) with the commit, all or nothing, and to
// hand them to a dispatcher: claimed under a lease, settled, or given up
// as dead letters. A store without it ignores Commit.Outbox.
//
// An entry written by Append is due from the time of its commit's first
// event (the command's time: at once), with no attempt counted; entries
// are handed out in the order they were written. A claimed entry
// is not due again before its lease ends, so a dispatcher that dies
// mid-delivery has it delivered again later (at least once).
type Outbox interface {
	// NextDue returns the earliest time an entry is due (a time not after
	// now for an entry due now); ok=false when the outbox is empty.
	NextDue(ctx context.Context) (due time.Time, ok bool, err error)
	// Due reports whether an entry is due at now. It does not queue
	// behind the writes.
	Due(ctx context.Context, now time.Time) (bool, error)
	// Claim, in one write step, finds the entries c asks for, in outbox
	// order, and passes them to lease, which returns for each how long it
	// is taken (0: not taken). A taken entry is due again when its lease
	// ends; Claim returns the taken ones. lease is called once, also with
	// no entries; when Claim fails after it, no entry is taken.
	Claim(ctx context.Context, c Claim, lease func([]Delivery) []time.Duration) ([]Delivery, error)
	// Settle records the outcomes of claimed entries in one write step,
	// all or none.
	Settle(ctx context.Context, now time.Time, outcomes []Settlement) error

	// DeadLetters returns every dead letter, oldest first.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
	// LastDeadLetter returns the latest dead letter of an event and a
	// consumer; ok=false if none.
	LastDeadLetter(ctx context.Context, eventID, consumer string) (dl DeadLetter, ok bool, err error)
	// RetryDeadLetter moves a dead letter back to the outbox, due at now
	// with no attempt counted. Errors: ErrNoDeadLetter.
	RetryDeadLetter(ctx context.Context, id int64, now time.Time) error
	// DiscardDeadLetter deletes a dead letter. Errors: ErrNoDeadLetter.
	DiscardDeadLetter(ctx context.Context, id int64) error
}

// Claim says which entries [Outbox.Claim] finds.
type Claim struct {
	// Now is the time of the claim: entries due at it are found, and
	// leases start at it.
	Now time.Time
	// Limit bounds the due entries found; 0: no bound.
	Limit int
	// Events, when set, asks for the entries of these events instead,
	// whether due or not (a command's sync deliveries).
	Events []string
}

// Delivery is an outbox entry as a dispatcher claims it.
type Delivery struct {
	Seq      int64  // the entry's place in the outbox: its order and its handle
	Consumer string // the effect
	Attempts int    // attempts that failed so far
	// Event is the event the entry is owed for: Position, ID, Aggregate,
	// Instance, Version, Type, SchemaVersion (the version its payload was
	// written at, which the delivery reads it up from), Time, CommandID,
	// Payload and Meta (who did it: an effect sees it, a send carries it
	// on).
	Event Event
}

// Verdict is what a delivery's outcome does to its entry.
type Verdict int

const (
	// Delivered deletes the entry.
	Delivered Verdict = iota
	// Released makes it due again at once, no attempt counted.
	Released
	// Failed counts the attempt (Attempts), keeps Error and makes the
	// entry due again at Next.
	Failed
	// Dead moves it to the dead letters with Attempts, Error and
	// Rejection.
	Dead
)

// Settlement is the outcome of one claimed entry.
type Settlement struct {
	Delivery  Delivery // as claimed
	Verdict   Verdict
	Attempts  int             // Failed, Dead: the attempts made, this one included
	Error     string          // Failed, Dead
	Next      time.Time       // Failed: when the entry is due again
	Rejection json.RawMessage // Dead: the rejecting command's answer, if any
}

// DeadLetter is a delivery that was given up.
type DeadLetter struct {
	ID        int64
	EventID   string
	Consumer  string
	Attempts  int
	Error     string
	Rejection json.RawMessage // nil: none
	Time      time.Time       // when it was given up
}
