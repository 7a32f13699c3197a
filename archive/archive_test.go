package archive_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
	"github.com/cuesource/cuesource/value"
)

// fill appends n events over 5 instances, payloads of awkward bytes
// (spaces, escapes, HTML) that must come back as written.
func fill(t testing.TB, s *sqlite.Store, n int) {
	t.Helper()
	versions := map[string]int64{}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("c%d", i%5)
		_, err := s.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: id, ExpectedVersion: versions[id],
			State: json.RawMessage(`{}`),
			Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Added", Time: at.Add(time.Duration(i) * time.Second), CommandID: fmt.Sprintf("k%d", i),
				Payload: json.RawMessage(fmt.Sprintf(`{ "n": %d, "s": "<a & b>\u00e9" }`, i))}}})
		require.NoError(t, err)
		versions[id]++
	}
}

func open(t testing.TB) (*sqlite.Store, archive.Dir) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	dir := archive.Dir(filepath.Join(t.TempDir(), "archive"))
	s.SetArchive(archive.NewReader(dir, s))
	return s, dir
}

// Under a byte budget the archiver archives and prunes until the hot log
// fits; the log still reads whole, byte for byte, in pages and at once.
func TestArchiveKeepsTheLogWhole(t *testing.T) {
	s, dir := open(t)
	fill(t, s, 500)
	before, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, before, 500)

	ps := retention.Policies{HotBytes: 4000}
	a := archive.New(s, dir, ps, archive.Options{Window: 64, SegmentEvents: 100})
	rep, err := a.Run(t.Context())
	require.NoError(t, err)
	assert.Positive(t, rep.Pruned)
	hot, err := s.HotBytes(t.Context())
	require.NoError(t, err)
	assert.LessOrEqual(t, hot, ps.HotBytes)

	after, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Equal(t, before, after, "whole, in order, byte for byte")
	var paged []store.Event
	for p := int64(0); ; {
		page, err := s.ReadAll(t.Context(), p, 37)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		p = page[len(page)-1].Position
	}
	assert.Equal(t, before, paged)

	n, problems, err := archive.Verify(t.Context(), dir, s)
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.Empty(t, problems)

	from, err := s.HotFrom(t.Context(), "cart", "c0")
	require.NoError(t, err)
	assert.Greater(t, from, int64(1), "c0's history begins hot later")
}

// A damaged or missing segment is named by Verify, and a read that needs
// it fails naming its range instead of returning other data.
func TestBadSegmentsAreNamed(t *testing.T) {
	s, dir := open(t)
	fill(t, s, 300)
	_, err := archive.New(s, dir, retention.Policies{Context: retention.Policy{KeepLast: 1}}, archive.Options{SegmentEvents: 100}).Run(t.Context())
	require.NoError(t, err)
	segs, err := s.Segments(t.Context())
	require.NoError(t, err)
	require.Len(t, segs, 3)

	data, err := os.ReadFile(filepath.Join(string(dir), segs[1].Name))
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(filepath.Join(string(dir), segs[1].Name), data, 0o644))
	require.NoError(t, os.Remove(filepath.Join(string(dir), segs[2].Name)))

	_, problems, err := archive.Verify(t.Context(), dir, s)
	require.NoError(t, err)
	require.Len(t, problems, 2)
	assert.Equal(t, "segment 101-200 ("+segs[1].Name+"): checksum mismatch", problems[0].String())
	assert.Contains(t, problems[1].String(), "segment 201-")
	assert.Contains(t, problems[1].String(), "missing")

	evs, err := s.ReadAll(context.Background(), 0, 100)
	require.NoError(t, err, "the good segment still reads")
	assert.Len(t, evs, 100)
	_, err = s.ReadAll(context.Background(), 150, 10)
	require.ErrorIs(t, err, store.ErrArchiveUnreadable)
	assert.Contains(t, err.Error(), "positions 101-200")
	_, err = s.ReadAll(context.Background(), 0, 0)
	require.ErrorIs(t, err, store.ErrArchiveUnreadable)
}

// A step repeated after a crash between the segment's write and its
// index row writes the same segment again and duplicates nothing.
func TestRepeatedSegmentIsIdempotent(t *testing.T) {
	s, dir := open(t)
	fill(t, s, 50)
	evs, err := s.Hot(t.Context(), 0, 20)
	require.NoError(t, err)
	data, seg, err := archive.Encode(evs)
	require.NoError(t, err)
	require.NoError(t, dir.Put(t.Context(), seg.Name, data)) // the crash: no index row
	_, err = archive.New(s, dir, retention.Policies{Context: retention.Policy{KeepLast: 2}}, archive.Options{SegmentEvents: 20}).Run(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.AddSegment(t.Context(), seg), "recording it again does nothing")
	all, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, all, 50)
	for i, e := range all {
		assert.Equal(t, int64(i+1), e.Position)
	}
	_, problems, err := archive.Verify(t.Context(), dir, s)
	require.NoError(t, err)
	assert.Empty(t, problems)
}

// A segment's line is export's line for the payloads the engine writes
// (compact JSON).
func TestLineIsExportLine(t *testing.T) {
	e := store.Event{ID: "e\"1<>", Position: 7, Aggregate: "cart", Instance: "a/b é", Version: 3, Type: "Added", SchemaVersion: 2,
		Time: time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC), CommandID: "k\u2028", Payload: json.RawMessage(`{"a":"<&>","n":1.5}`), Meta: json.RawMessage(`{"m":1}`)}
	want, err := value.Encode(e)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(archive.AppendLine(nil, e)))
	e.Meta, e.Payload = nil, nil
	want, err = value.Encode(e)
	require.NoError(t, err)
	assert.Equal(t, string(want), string(archive.AppendLine(nil, e)))
}

// Prune reads the guards again inside its transaction: it deletes no
// event past the archive, the head, a projection's checkpoint, nor one an
// effect still owes (an outbox row), whatever it is asked.
func TestPruneHoldsTheGuards(t *testing.T) {
	s, dir := open(t)
	fill(t, s, 20)
	// Position 21 owes a delivery.
	_, err := s.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: "owed", State: json.RawMessage(`{}`),
		Events: []store.Event{{ID: "owed-1", Type: "Added", Time: time.Now().UTC(), CommandID: "k-owed", Payload: json.RawMessage(`{}`)}},
		Outbox: []store.OutboxEntry{{EventID: "owed-1", Consumer: "mail"}}})
	require.NoError(t, err)
	fill2 := func(n int) {
		for i := range n {
			_, err := s.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: fmt.Sprintf("z%d", i), State: json.RawMessage(`{}`),
				Events: []store.Event{{ID: fmt.Sprintf("z%d", i), Type: "Added", Time: time.Now().UTC(), CommandID: fmt.Sprintf("kz%d", i), Payload: json.RawMessage(`{}`)}}})
			require.NoError(t, err)
		}
	}
	fill2(4) // positions 22..25; 25 is the head
	evs, err := s.Hot(t.Context(), 0, 25)
	require.NoError(t, err)
	data, seg, err := archive.Encode(evs)
	require.NoError(t, err)
	require.NoError(t, dir.Put(t.Context(), seg.Name, data))
	require.NoError(t, s.AddSegment(t.Context(), seg))

	// A projection has applied up to position 23 only.
	require.NoError(t, s.Write(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`CREATE TABLE projections (name TEXT PRIMARY KEY, position INTEGER NOT NULL); INSERT INTO projections VALUES ('p', 23), ('gone', 0)`)
		return err
	}))
	// 'gone' is a projection the context no longer defines: its checkpoint
	// would hold everything back.
	n, err := s.Prune(t.Context(), []int64{1})
	require.NoError(t, err)
	require.Zero(t, n, "every checkpoint counts until the store knows the context's projections")
	s.SetProjections([]string{"p"})
	all := make([]int64, 25)
	for i := range all {
		all[i] = int64(i + 1)
	}
	n, err = s.Prune(t.Context(), all)
	require.NoError(t, err)
	assert.Equal(t, 22, n, "1-20 and 22-23: not 21 (owed), 24 (not projected), 25 (the head)")
	hot, err := s.Hot(t.Context(), 0, 100)
	require.NoError(t, err)
	var left []int64
	for _, e := range hot {
		left = append(left, e.Position)
	}
	assert.Equal(t, []int64{21, 24, 25}, left)
	segs, err := s.Segments(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(3), segs[0].Hot, "the index's hot count moved with the deletions")
	whole, err := s.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Len(t, whole, 25)
}

// An index entry whose hot count disagrees with the hot store is named.
func TestVerifyNamesAHotCountThatDisagrees(t *testing.T) {
	s, dir := open(t)
	fill(t, s, 30)
	_, err := archive.New(s, dir, retention.Policies{Context: retention.Policy{KeepLast: 2}}, archive.Options{SegmentEvents: 10}).Run(t.Context())
	require.NoError(t, err)
	require.NoError(t, s.Write(t.Context(), func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE archive_segments SET hot = hot + 7 WHERE first = 1`)
		return err
	}))
	_, problems, err := archive.Verify(t.Context(), dir, s)
	require.NoError(t, err)
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0].String(), "segment 1-10")
	assert.Contains(t, problems[0].String(), "the hot store holds 0 of its events, the index says 7")
}

// A segment is at most one page of the log: however heavy its events, the
// archiver and a reader hold no more than store.PageBytes of payloads
// (and one event) of it at once.
func TestSegmentsAreBoundedLikeAPage(t *testing.T) {
	s, dir := open(t)
	big := `{"s":"` + strings.Repeat("0", 1<<20) + `"}` // about 1 MiB
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 12 {
		_, err := s.Append(t.Context(), store.Commit{Aggregate: "blob", Instance: fmt.Sprintf("b%d", i), State: json.RawMessage(`{}`),
			Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Stored", Time: at, CommandID: fmt.Sprintf("k%d", i), Payload: json.RawMessage(big)}}})
		require.NoError(t, err)
	}
	a := archive.New(s, dir, retention.Policies{HotBytes: 1}, archive.Options{SegmentEvents: 2000})
	_, err := a.Run(t.Context())
	require.NoError(t, err)
	segs, err := s.Segments(t.Context())
	require.NoError(t, err)
	require.Greater(t, len(segs), 1, "12 MiB of payloads take several segments")
	for _, g := range segs {
		evs, err := archive.NewReader(dir, s).Segment(t.Context(), g)
		require.NoError(t, err)
		bytes := 0
		for _, e := range evs[:len(evs)-1] {
			bytes += len(e.Payload)
		}
		assert.Less(t, bytes, store.PageBytes, "segment %s: %d events", g.Name, len(evs))
	}
}

// Before an instance's events leave the hot store it is snapshotted at
// their last version or later (Options.Snapshot with SnapshotBefore), so
// its rehydration starts after them; one that has such a snapshot
// already is left alone.
func TestSnapshotBeforePrune(t *testing.T) {
	s, dir := open(t)
	fill(t, s, 50) // c0..c4, 10 events each
	hash := func(aggregate string) string {
		if aggregate == "cart" {
			return "h1"
		}
		return ""
	}
	// c1 has a snapshot of its own at version 10 already, with another state.
	require.NoError(t, s.SaveSnapshot(t.Context(), store.Snapshot{Aggregate: "cart", Instance: "c1", Version: 10, State: json.RawMessage(`{"own":true}`), Hash: "h1", Time: time.Now()}))
	var asked []string
	snap := archive.SnapshotBefore(s, hash, time.Now)
	opt := archive.Options{Snapshot: func(ctx context.Context, aggregate, id string, upto int64) error {
		asked = append(asked, fmt.Sprintf("%s/%s@%d", aggregate, id, upto))
		return snap(ctx, aggregate, id, upto)
	}}
	_, err := archive.New(s, dir, retention.Policies{Context: retention.Policy{KeepLast: 3}}, opt).Run(t.Context())
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"cart/c0@7", "cart/c1@7", "cart/c2@7", "cart/c3@7", "cart/c4@7"}, asked)
	for i := range 5 {
		id := fmt.Sprintf("c%d", i)
		sn, ok, err := s.Snapshot(t.Context(), "cart", id, "h1")
		require.NoError(t, err)
		require.True(t, ok, "%s has a snapshot", id)
		assert.Equal(t, int64(10), sn.Version, id)
		from, err := s.HotFrom(t.Context(), "cart", id)
		require.NoError(t, err)
		assert.Equal(t, int64(8), from, "%s keeps its last 3 events hot", id)
		if id == "c1" {
			assert.JSONEq(t, `{"own":true}`, string(sn.State), "a snapshot at the version already kept is left alone")
		} else {
			assert.JSONEq(t, `{}`, string(sn.State))
		}
	}
}

// A window that wants more archived than one segment holds is read again
// until it is done, and a pass ends only when none of its steps did
// anything: with segments smaller than the window, one Run still brings
// the hot log under its budget.
func TestSegmentsSmallerThanTheWindow(t *testing.T) {
	s, dir := open(t)
	fill(t, s, 500)
	ps := retention.Policies{HotBytes: 4000}
	rep, err := archive.New(s, dir, ps, archive.Options{Window: 64, SegmentEvents: 10}).Run(t.Context())
	require.NoError(t, err)
	assert.Greater(t, rep.Segments, 10)
	hot, err := s.HotBytes(t.Context())
	require.NoError(t, err)
	assert.LessOrEqual(t, hot, ps.HotBytes)
	n, problems, err := archive.Verify(t.Context(), dir, s)
	require.NoError(t, err)
	assert.Equal(t, rep.Segments, n)
	assert.Empty(t, problems)
}

// The archiver reads the hot log's size at every step, not once per pass:
// what is written while a pass goes through the log counts at its next
// step, so the budget holds to within one step's writes. (Each event is
// its own instance's, so any of them may leave.)
func TestBudgetSeesWritesWithinAPass(t *testing.T) {
	s, dir := open(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 200 {
		_, err := s.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: fmt.Sprintf("c%d", i), State: json.RawMessage(`{}`),
			Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Added", Time: at, CommandID: fmt.Sprintf("k%d", i), Payload: json.RawMessage(`{"n":1}`)}}})
		require.NoError(t, err)
	}
	hot, err := s.HotBytes(t.Context())
	require.NoError(t, err)
	ps := retention.Policies{HotBytes: hot + 1000}
	a := archive.New(s, dir, ps, archive.Options{Window: 50, SegmentEvents: 100})
	rep, done, err := a.Step(t.Context())
	require.NoError(t, err)
	require.False(t, done, "the pass is at its first window of four")
	require.Zero(t, rep.Pruned, "under the budget")

	_, err = s.Append(t.Context(), store.Commit{Aggregate: "blob", Instance: "b", State: json.RawMessage(`{}`),
		Events: []store.Event{{ID: "big", Type: "Stored", Time: at, CommandID: "big",
			Payload: json.RawMessage(`{"s":"` + strings.Repeat("0", 5000) + `"}`)}}})
	require.NoError(t, err)
	rep, _, err = a.Step(t.Context())
	require.NoError(t, err)
	assert.Positive(t, rep.Pruned, "the next step of the same pass sees the log over its budget")
	_, err = a.Run(t.Context())
	require.NoError(t, err)
	hot, err = s.HotBytes(t.Context())
	require.NoError(t, err)
	assert.LessOrEqual(t, hot, ps.HotBytes)
}

// sizedTarget tells an object's size; reading one is the failure the
// test looks for.
type sizedTarget struct {
	archive.Target
	t    *testing.T
	size int64
}

func (s sizedTarget) Size(context.Context, string) (int64, error) { return s.size, nil }

func (s sizedTarget) Get(context.Context, string) ([]byte, error) {
	s.t.Error("the object was read")
	return nil, nil
}

// An object over the bound the admin route serves is refused by its size,
// never read: a target that can tell it is not asked for its bytes.
func TestServedObjectChecksTheSizeFirst(t *testing.T) {
	s := archive.Served{Target: sizedTarget{t: t, size: 1 << 30}}
	data, size, err := s.Object(t.Context(), archive.Name(1, 2), 16<<20)
	require.NoError(t, err)
	assert.Nil(t, data)
	assert.Equal(t, int64(1<<30), size)
}

// counting is a hot store still counting its size (D1 after migration
// 0004).
type counting struct{ *sqlite.Store }

func (counting) HotBytes(context.Context) (int64, error) {
	return 0, &archive.CountingError{Counted: 10, Base: 100}
}

// While the store still counts its size, the archiver judges no byte
// budget but keeps the keep rules, and the status says how far the
// counting is, with no budget.
func TestCountingSizeKeepsTheRules(t *testing.T) {
	s, dir := open(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		_, err := s.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: "c1", ExpectedVersion: int64(i), State: json.RawMessage(`{}`),
			Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Added", Time: at, CommandID: fmt.Sprintf("k%d", i), Payload: json.RawMessage(`{"n":1}`)}}})
		require.NoError(t, err)
	}
	_, err := s.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: "c2", State: json.RawMessage(`{}`),
		Events: []store.Event{{ID: "head", Type: "Added", Time: at, CommandID: "kh", Payload: json.RawMessage(`{"n":1}`)}}})
	require.NoError(t, err)
	ps := retention.Policies{HotBytes: 1, Context: retention.Policy{KeepLast: 1}}
	rep, err := archive.New(counting{s}, dir, ps, archive.Options{}).Run(t.Context())
	require.NoError(t, err, "counting is no failure")
	assert.Equal(t, int64(3), rep.Pruned, "keepLast 1 let c1's first three go; the budget (1 byte) would have taken its fourth too")

	st, err := archive.StatusOf(t.Context(), counting{s}, dir, ps, nil, at)
	require.NoError(t, err)
	assert.Equal(t, &archive.CountingError{Counted: 10, Base: 100}, st.Counting)
	assert.Zero(t, st.Budget)
}

// The status sums the index and lists its newest MaxStatusSegments, in
// position order, from the first segment's first time to the last one's
// last.
func TestStatusSumsTheIndex(t *testing.T) {
	s, dir := open(t)
	st, err := archive.StatusOf(t.Context(), s, dir, retention.Policies{}, nil, time.Now())
	require.NoError(t, err)
	assert.Zero(t, st.SegmentCount)
	assert.Nil(t, st.From)
	assert.Empty(t, st.Segments)

	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n := archive.MaxStatusSegments + 20
	for i := 1; i <= n; i++ {
		seg := archive.Segment{First: int64(i), Last: int64(i), Count: 1, FirstTime: at.Add(time.Duration(i) * time.Minute),
			LastTime: at.Add(time.Duration(i)*time.Minute + time.Second), Bytes: 10, SHA256: "x", Name: archive.Name(int64(i), int64(i))}
		require.NoError(t, s.AddSegment(t.Context(), seg))
	}
	st, err = archive.StatusOf(t.Context(), s, dir, retention.Policies{}, nil, time.Now())
	require.NoError(t, err)
	assert.Equal(t, n, st.SegmentCount)
	assert.Equal(t, int64(10*n), st.ArchivedBytes)
	assert.Equal(t, at.Add(time.Minute), *st.From)
	assert.Equal(t, at.Add(time.Duration(n)*time.Minute+time.Second), *st.To)
	require.Len(t, st.Segments, archive.MaxStatusSegments)
	assert.Equal(t, int64(21), st.Segments[0].First)
	assert.Equal(t, int64(n), st.Segments[len(st.Segments)-1].First)
}

// A bounded pass (Loop's, LoopSteps) stops after its steps, and the next
// carries on where it stopped until the log is done.
func TestBoundedPassCarriesOn(t *testing.T) {
	s, dir := open(t)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		_, err := s.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: fmt.Sprintf("c%d", i), State: json.RawMessage(`{}`),
			Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Added", Time: at, CommandID: fmt.Sprintf("k%d", i), Payload: json.RawMessage(`{"n":1}`)}}})
		require.NoError(t, err)
	}
	a := archive.New(s, dir, retention.Policies{HotBytes: 1}, archive.Options{Window: 10, SegmentEvents: 10})
	first, err := a.RunSteps(t.Context(), 2)
	require.NoError(t, err)
	assert.Positive(t, first.Pruned)
	assert.LessOrEqual(t, first.Pruned, int64(20), "two steps prune at most two windows of 10")
	total := first.Pruned
	for range 100 {
		rep, err := a.RunSteps(t.Context(), 2)
		require.NoError(t, err)
		if rep.Pruned == 0 {
			break
		}
		total += rep.Pruned
	}
	assert.Equal(t, int64(99), total, "the passes carried on to all but the head")
}
