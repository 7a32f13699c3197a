//go:build linux

package sqlite

import (
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
)

// tmpfs mounts a tmpfs of size on a fresh directory for the test, or
// skips it: only root can mount one (CI runs as root).
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs to fill up or make read-only (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s); this test needs one", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file into dir until its file system is full.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	chunk := make([]byte, 4096)
	for range 1 << 20 {
		if _, err := f.Write(chunk); err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return path
		}
	}
	t.Fatal("never full")
	return ""
}

// TestStorageFull: on a full file system every kind of write fails with
// ErrStorageFull and keeps nothing, Health says so; once space is freed,
// Health's probe sees it and the store takes writes again with a
// gap-free log.
func TestStorageFull(t *testing.T) {
	dir := tmpfs(t, "1m")
	ctx := t.Context()
	s, err := Open(ctx, filepath.Join(dir, "store.db"), Options{})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Append(ctx, store.Commit{Aggregate: "a", Instance: "1", Events: []store.Event{event("e1")}, State: []byte(`{}`)})
	require.NoError(t, err)
	assert.Equal(t, store.Health{}, s.Health(ctx))

	filler := fill(t, dir)
	big := []byte(`"` + strings.Repeat("x", 8000) + `"`)
	_, err = s.Append(ctx, store.Commit{Aggregate: "a", Instance: "2", Events: []store.Event{event("e2")}, State: big})
	require.ErrorIs(t, err, store.ErrStorageFull)
	_, err = s.AppendBatch(ctx, []store.Commit{{Aggregate: "a", Instance: "3", Events: []store.Event{event("e3")}, State: big}})
	require.ErrorIs(t, err, store.ErrStorageFull)
	err = s.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE filler (b BLOB)`)
		if err == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO filler VALUES (?)`, big)
		}
		return err
	})
	require.ErrorIs(t, err, store.ErrStorageFull)
	h := s.Health(ctx)
	assert.True(t, h.Failing)
	assert.EqualValues(t, 3, h.Faults)
	assert.Contains(t, h.LastFault, "full")
	assert.WithinDuration(t, time.Now(), h.LastFaultAt, time.Minute)
	evs, err := s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, []int64{1}, positions(evs), "nothing of the failed writes kept")

	require.NoError(t, os.Remove(filler))
	require.Eventually(t, func() bool { return !s.Health(ctx).Failing }, 10*time.Second, 50*time.Millisecond, "Health still failing 10s after space was freed")
	for i, id := range []string{"e2", "e3"} {
		_, err = s.Append(ctx, store.Commit{Aggregate: "a", Instance: id, Events: []store.Event{event(id)}, State: big})
		require.NoError(t, err, "append %d after space was freed", i)
	}
	evs, err = s.ReadAll(ctx, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 3}, positions(evs))
	assert.EqualValues(t, 3, s.Health(ctx).Faults, "the faults stay counted")
}

// TestOpenDamaged: a page of garbage is found at Open, with the file and
// what the check said; SkipIntegrityCheck opens it, and a read of the
// damaged table fails with ErrStorageFailed and is counted.
func TestOpenDamaged(t *testing.T) {
	ctx := t.Context()
	s, path := openTemp(t, Options{})
	for _, id := range []string{"e1", "e2"} {
		_, err := s.Append(ctx, store.Commit{Aggregate: "a", Instance: id, Events: []store.Event{event(id)}, State: []byte(`{}`)})
		require.NoError(t, err)
	}
	var root, pageSize int64
	require.NoError(t, s.write.QueryRowContext(ctx, `SELECT rootpage FROM sqlite_schema WHERE name = 'instances'`).Scan(&root))
	require.NoError(t, s.write.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize))
	require.NoError(t, s.Close()) // checkpoints the WAL into the file
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte(strings.Repeat("\xde\xad\xbe\xef", int(pageSize/4))), (root-1)*pageSize)
	require.NoError(t, err)
	require.NoError(t, f.Close())

	_, err = Open(ctx, path, Options{})
	require.ErrorIs(t, err, ErrDamaged)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "PRAGMA quick_check: ")

	s, err = Open(ctx, path, Options{SkipIntegrityCheck: true})
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Load(ctx, "a", "e1")
	require.ErrorIs(t, err, store.ErrStorageFailed)
	assert.Contains(t, err.Error(), "malformed")
	assert.EqualValues(t, 1, s.Health(ctx).Faults)
	evs, err := s.ReadAll(ctx, 0, 0) // another table reads fine
	require.NoError(t, err)
	assert.Len(t, evs, 2)
}

// TestOpenNotADatabase: a file whose header is garbage is refused as
// damaged, with or without the integrity check.
func TestOpenNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	require.NoError(t, os.WriteFile(path, []byte(strings.Repeat("not a database ", 512)), 0o644))
	for _, skip := range []bool{false, true} {
		_, err := Open(t.Context(), path, Options{SkipIntegrityCheck: skip})
		require.ErrorIs(t, err, ErrDamaged, "skip %v", skip)
		assert.Contains(t, err.Error(), path)
	}
}

// TestOpenLocked: with Lock, a second Open of the same database fails
// naming the holder until the first closes; without Lock, it opens.
func TestOpenLocked(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := Open(ctx, path, Options{Lock: true})
	require.NoError(t, err)
	_, err = Open(ctx, path, Options{Lock: true})
	require.ErrorIs(t, err, ErrLocked)
	var held *LockedError
	require.True(t, errors.As(err, &held))
	assert.Equal(t, os.Getpid(), held.PID)
	assert.Equal(t, path+".lock", held.Lock)
	assert.Contains(t, err.Error(), "pid ")

	reader, err := Open(ctx, path, Options{})
	require.NoError(t, err, "a reader takes no lock")
	require.NoError(t, reader.Close())

	require.NoError(t, s.Close())
	s, err = Open(ctx, path, Options{Lock: true})
	require.NoError(t, err, "the lock goes with Close")
	require.NoError(t, s.Close())
}

// TestOpenReadOnly: a database whose directory takes no new files is
// refused at Open with a message that says so and names the directory.
// As root (who ignores mode bits) the directory is a tmpfs remounted
// read-only; otherwise it is made 0555.
func TestOpenReadOnly(t *testing.T) {
	ctx := t.Context()
	var dir, why string
	if os.Geteuid() == 0 {
		dir, why = tmpfs(t, "1m"), "read-only file system"
	} else {
		dir, why = t.TempDir(), "permission denied"
	}
	path := filepath.Join(dir, "store.db")
	s, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	if os.Geteuid() == 0 {
		out, err := exec.Command("mount", "-o", "remount,ro", dir).CombinedOutput()
		require.NoError(t, err, "%s", out)
	} else {
		require.NoError(t, os.Chmod(dir, 0o555))
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}

	_, err = Open(ctx, path, Options{})
	require.ErrorIs(t, err, ErrReadOnly)
	assert.Contains(t, err.Error(), "the directory "+dir)
	assert.Contains(t, err.Error(), why)
}
