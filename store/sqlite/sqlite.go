package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource/store"
)

var _ store.Store = (*Store)(nil)

// Sync is the writer's PRAGMA synchronous: what a returned Append survives.
type Sync int

const (
	// SyncFull syncs the WAL on every commit: a returned Append survives a
	// process crash, an OS crash and a power loss. The zero value, because
	// an event store acknowledges commands on the strength of its commits.
	SyncFull Sync = iota
	// SyncNormal syncs only at checkpoints: a returned Append survives a
	// process crash, but an OS crash or power loss may undo the last
	// commits (never corrupting the database). Faster; see DRIVERS.md.
	SyncNormal
)

// String returns the pragma value.
func (s Sync) String() string {
	switch s {
	case SyncFull:
		return "FULL"
	case SyncNormal:
		return "NORMAL"
	}
	return "Sync(" + strconv.Itoa(int(s)) + ")"
}

// Options tune a [Store]. The zero value is the safe default.
type Options struct {
	// Sync is the durability of a commit; zero is [SyncFull].
	Sync Sync
	// BusyTimeout is how long a connection waits for a lock another
	// process holds on the file. Writers of this Store never wait on each
	// other in SQLite: they queue in Go. Zero means 5s.
	BusyTimeout time.Duration
	// ReadConns caps the read pool; zero means 4. Readers run beside the
	// writer (WAL), each on a consistent snapshot.
	ReadConns int
}

// Store is a durable [store.Store] in one SQLite database file. It is safe
// for concurrent use: writes are serialized in Go on one connection, reads
// use a separate read-only pool.
type Store struct {
	write *sql.DB // exactly one connection; every write transaction runs here
	read  *sql.DB // query_only connections for Load, Events, ReadAll, Idempotency

	// writer is a one-slot semaphore held around every write transaction.
	// Queuing here rather than in SQLite means concurrent appends never see
	// SQLITE_BUSY, and unlike a sync.Mutex a waiter can give up when its
	// context ends.
	writer chan struct{}

	ws writeStmts
	rs readStmts

	hook Hook
}

// Open opens or creates the database at path, applies pending schema
// migrations and returns the store. It refuses a database whose schema is
// newer than this build ([ErrSchemaTooNew]) and a file SQLite cannot put in
// WAL mode.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	return open(ctx, driverName, path, opts)
}

// open is Open on a named database/sql driver; the driver benchmark uses it
// to run the same store on each candidate.
func open(ctx context.Context, driver, path string, opts Options) (_ *Store, err error) {
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: open %q: want the path of a database file", path)
	}
	if opts.Sync != SyncFull && opts.Sync != SyncNormal {
		return nil, fmt.Errorf("sqlite: open %s: unknown %v", path, opts.Sync)
	}
	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = 5 * time.Second
	}
	readConns := opts.ReadConns
	if readConns <= 0 {
		readConns = 4
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	s := &Store{writer: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()

	// Pragmas go in the DSN so that a connection database/sql reopens gets
	// them too. busy_timeout comes first: the others may need a lock.
	s.write, err = sql.Open(driver, fileURI(abs, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()),
			"journal_mode(WAL)",
			"synchronous(" + opts.Sync.String() + ")",
			"foreign_keys(ON)",
		},
		// BEGIN IMMEDIATE takes the write lock up front, so the checks an
		// Append makes cannot be invalidated by another process before it
		// writes.
		"_txlock": {"immediate"},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.write.SetMaxOpenConns(1)
	s.write.SetMaxIdleConns(1)
	s.write.SetConnMaxLifetime(0)
	s.write.SetConnMaxIdleTime(0)

	var mode string
	if err := s.write.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, not WAL (is the file on a file system without shared memory?)", path, mode)
	}
	if err := migrate(ctx, s.write); err != nil {
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}

	// The read pool opens after migration, so it never sees a half-built
	// schema; query_only makes a stray write through it an error.
	s.read, err = sql.Open(driver, fileURI(abs, url.Values{
		"_pragma": {
			fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()),
			"query_only(ON)",
		},
	}))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s.read.SetMaxOpenConns(readConns)
	s.read.SetMaxIdleConns(readConns)

	if err := s.ws.prepare(ctx, s.write); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.rs.prepare(ctx, s.read); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// fileURI is the SQLite URI of an absolute path with driver parameters.
// Both drivers split the DSN at the first '?', and SQLite decodes %XX in
// the path, so '%', '?' and '#' in a file name must be escaped.
func fileURI(abs string, q url.Values) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(filepath.ToSlash(abs)) + "?" + q.Encode()
}

// Close waits for a write in progress, then closes the database. The last
// connection to close checkpoints the WAL into the main file.
func (s *Store) Close() error {
	s.writer <- struct{}{}
	defer func() { <-s.writer }()
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	var errs []error
	// Readers first, so the writer's connection is the last one and
	// checkpoints.
	if s.read != nil {
		errs = append(errs, s.read.Close())
	}
	if s.write != nil {
		errs = append(errs, s.write.Close())
	}
	return errors.Join(errs...)
}

// lock takes the writer slot, or gives up when ctx ends.
func (s *Store) lock(ctx context.Context) error {
	select {
	case s.writer <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Store) unlock() { <-s.writer }

// timeLayout is RFC 3339 with a fixed nine-digit fraction. time.RFC3339Nano
// drops trailing zeros, which breaks text ordering ("05Z" > "05.5Z");
// PruneIdempotency compares times as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime returns t as stored: UTC, fixed width.
func formatTime(t time.Time) (string, error) {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return "", fmt.Errorf("time %v outside years 0000-9999", t)
	}
	return t.Format(timeLayout), nil
}

func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("sqlite: stored time %q: %w", s, err)
	}
	return t, nil
}

// text binds JSON as TEXT, keeping nil as NULL. It copies, so the caller's
// slice is not retained.
func text(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}
