package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cuesource/cuesource/store"
)

var (
	_ store.Store          = (*Store)(nil)
	_ store.Batcher        = (*Store)(nil)
	_ store.SQL            = (*Store)(nil)
	_ store.Hooker         = (*Store)(nil)
	_ store.Outbox         = (*Store)(nil)
	_ store.HealthReporter = (*Store)(nil)
	_ store.Snapshots      = (*Store)(nil)
)

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
	// SkipIntegrityCheck skips the PRAGMA quick_check Open runs, which
	// reads the whole file: for stores so large that it takes too long.
	SkipIntegrityCheck bool
	// Lock takes an exclusive lock on the file <path>.lock for as long as
	// the store is open, so a second process that would write the same
	// database is refused at Open ([ErrLocked]) instead of meeting this
	// one's commits as conflicts. Readers beside a writer need no lock.
	Lock bool
}

// Errors of Open, beside the driver's.
var (
	// ErrDamaged: the integrity check (or SQLite itself) found the file
	// damaged.
	ErrDamaged = errors.New("database damaged")
	// ErrReadOnly: the database file or its directory cannot be written.
	ErrReadOnly = errors.New("read-only")
	// ErrLocked: another process holds the database's lock (a
	// [*LockedError]).
	ErrLocked = errors.New("database in use")
)

// LockedError says which process holds a database's lock.
type LockedError struct {
	Lock string // the lock file
	PID  int    // the holder's process id as it wrote it; 0 if unknown
}

func (e *LockedError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who += " (pid " + strconv.Itoa(e.PID) + ")"
	}
	return fmt.Sprintf("%v: %s holds its lock %s", ErrLocked, who, e.Lock)
}

func (e *LockedError) Is(target error) bool { return target == ErrLocked }

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

	hook        store.Hook
	cold        ColdReader // the archive, read where the hot log has left
	pruning     func()     // SetPruning
	projections string     // SetProjections: a JSON array of names; "": all

	faults     faultLog
	unlockFile func() error // releases Options.Lock's lock; nil without one
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

	if err := writable(abs); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	s := &Store{writer: make(chan struct{}, 1)}
	defer func() {
		if err != nil {
			s.closeDBs()
		}
	}()
	if opts.Lock {
		if s.unlockFile, err = lockFile(abs + ".lock"); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}

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
		if c := sqliteCode(err); c == codeNotADB || c == codeCorrupt {
			return nil, fmt.Errorf("sqlite: open %s: %w: %w", path, ErrDamaged, err)
		}
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		return nil, fmt.Errorf("sqlite: open %s: journal mode is %q, not WAL (is the file on a file system without shared memory?)", path, mode)
	}
	if !opts.SkipIntegrityCheck {
		if err := quickCheck(ctx, s.write); err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
	}
	if err := migrate(ctx, s.write); err != nil {
		return nil, fmt.Errorf("%w (database %s)", err, path)
	}
	if _, err := s.write.ExecContext(ctx, deadLettersTable); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: create the dead_letters table: %w", path, err)
	}
	if _, err := s.write.ExecContext(ctx, archiveTable); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: create the archive_segments table: %w", path, err)
	}
	// A table of that name made before the store took it (a projection's)
	// would be used as the index: refuse it, naming the way out.
	if _, err := s.write.ExecContext(ctx, `SELECT `+segmentColumns+`, created FROM archive_segments LIMIT 0`); err != nil {
		return nil, fmt.Errorf("sqlite: open %s: the table archive_segments is not the archive's index (a projection of that name?): rename the projection, DROP TABLE archive_segments and open again: %w", path, err)
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

// quickCheck runs PRAGMA quick_check: every page of the file read and its
// b-tree structure checked (not index contents against their tables,
// which integrity_check adds at many times the cost). SQLite answers a
// damage it finds with rows, or, when it cannot read on, with an error.
func quickCheck(ctx context.Context, db *sql.DB) error {
	failed := func(err error) error {
		if c := sqliteCode(err); c == codeNotADB || c == codeCorrupt {
			return fmt.Errorf("%w: PRAGMA quick_check: %w", ErrDamaged, err)
		}
		return fmt.Errorf("PRAGMA quick_check: %w", err)
	}
	rows, err := db.QueryContext(ctx, `PRAGMA quick_check(10)`)
	if err != nil {
		return failed(err)
	}
	defer rows.Close()
	var found []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return failed(err)
		}
		found = append(found, line)
	}
	if err := rows.Err(); err != nil {
		return failed(err)
	}
	if len(found) == 1 && found[0] == "ok" {
		return nil
	}
	return fmt.Errorf("%w: PRAGMA quick_check: %s", ErrDamaged, strings.Join(found, "; "))
}

// writable checks up front that the database's directory and file (if
// it exists) can be written: SQLite would otherwise fail later with
// "unable to open database file", which does not say why. The directory
// must take new files (SQLite creates -wal and -shm beside the
// database), so a probe file is created there; as root, that is the one
// check that sees a read-only mount rather than the mode bits.
func writable(abs string) error {
	dir := filepath.Dir(abs)
	probe, err := os.CreateTemp(dir, ".cuesource-write-check-*")
	if err != nil {
		if readOnly(err) {
			return fmt.Errorf("%w: cannot create files in the directory %s (%v); the store writes the database and its -wal, -shm and .lock files there", ErrReadOnly, dir, errors.Unwrap(err))
		}
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("the directory %s does not exist", dir)
		}
		return err
	}
	probe.Close()
	os.Remove(probe.Name())
	f, err := os.OpenFile(abs, os.O_RDWR, 0)
	switch {
	case err == nil:
		return f.Close()
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case readOnly(err):
		return fmt.Errorf("%w: cannot write the database file %s (%v)", ErrReadOnly, abs, errors.Unwrap(err))
	}
	return err
}

func readOnly(err error) bool {
	return errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS)
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
	// The lock goes last: the file is consistent and closed when the next
	// process may take it.
	if s.unlockFile != nil {
		errs = append(errs, s.unlockFile())
		s.unlockFile = nil
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
