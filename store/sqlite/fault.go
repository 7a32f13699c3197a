package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cuesource/cuesource/store"
)

// SQLite's primary result codes for faults of the medium; the driver
// reports extended codes, whose low byte is the primary one.
const (
	codeReadOnly = 8
	codeIOErr    = 10
	codeCorrupt  = 11
	codeFull     = 13
	codeCantOpen = 14
	codeNotADB   = 26
)

// sqliteCode returns SQLite's primary result code in err's chain, 0 if
// the error did not come from SQLite.
func sqliteCode(err error) int {
	var coded interface{ Code() int }
	if errors.As(err, &coded) {
		return coded.Code() & 0xff
	}
	return 0
}

// fault marks err with the store sentinel its cause calls for
// ([store.ErrStorageFull], [store.ErrStorageFailed]), so the API maps a
// medium's fault to an answer without knowing SQLite, and records it for
// [Store.Health]. Other errors pass as they are.
func (s *Store) fault(err error) error {
	if err == nil || errors.Is(err, store.ErrStorageFull) || errors.Is(err, store.ErrStorageFailed) {
		return err
	}
	var sentinel error
	switch sqliteCode(err) {
	case codeFull:
		sentinel = store.ErrStorageFull
	case codeIOErr, codeCorrupt, codeNotADB, codeCantOpen, codeReadOnly:
		sentinel = store.ErrStorageFailed
	default:
		return err
	}
	s.faults.failed(err)
	return fmt.Errorf("%w: %w", sentinel, err)
}

// faultLog records storage faults. Commits clear failing with one atomic
// load when nothing failed, so the write path does not pay for it.
type faultLog struct {
	failing atomic.Bool

	mu        sync.Mutex
	count     int64
	last      string
	lastAt    time.Time
	lastProbe time.Time
}

func (h *faultLog) failed(err error) {
	h.mu.Lock()
	h.count++
	h.last, h.lastAt = err.Error(), time.Now()
	h.mu.Unlock()
	h.failing.Store(true)
}

// committed notes a write transaction that committed: the medium takes
// writes again.
func (h *faultLog) committed() {
	if h.failing.Load() {
		h.failing.Store(false)
	}
}

// probeEvery bounds how often Health tries a write while failing.
const probeEvery = time.Second

// Health implements [store.HealthReporter]: the storage faults seen since Open. While failing, it
// tries a one-page write (at most once a second) to learn whether the
// medium takes writes again, so a store that nothing writes to (a
// server taken out of rotation for failing) still recovers.
func (s *Store) Health(ctx context.Context) store.Health {
	if s.faults.failing.Load() {
		s.faults.mu.Lock()
		due := time.Since(s.faults.lastProbe) >= probeEvery
		if due {
			s.faults.lastProbe = time.Now()
		}
		s.faults.mu.Unlock()
		if due {
			_ = s.probe(ctx)
		}
	}
	h := &s.faults
	h.mu.Lock()
	defer h.mu.Unlock()
	return store.Health{Failing: h.failing.Load(), Faults: h.count, LastFault: h.last, LastFaultAt: h.lastAt}
}

// probe commits a transaction that rewrites the database header with the
// value it has (user_version): one page through the WAL, the smallest
// write that proves the medium takes commits. Its failure is not counted
// as another fault: it only learns whether the last one is over.
func (s *Store) probe(ctx context.Context) error {
	return s.writeTx(ctx, func(tx *sql.Tx) error {
		var v int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v))
		return err
	})
}

// commit commits tx and notes a success: the medium takes writes. (A
// COMMIT that fails on a full or failing medium is rolled back by SQLite
// itself; TestStorageFull shows the store writing again afterwards.)
func (s *Store) commit(tx *sql.Tx) error {
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	s.faults.committed()
	return nil
}
