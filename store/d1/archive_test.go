package d1_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// archiveDB is a D1 log of 6 events over two instances, with the
// archive's migrations; run runs a batch on it.
func archiveDB(t *testing.T) (run func(...stmt) [][][]any) {
	t.Helper()
	d := open(t, string(d1.Migration()), string(d1.MetaMigration()), string(d1.ArchiveMigration()), string(d1.HotLogMigration()))
	var evs []ev
	for i := range 6 {
		evs = append(evs, ev{fmt.Sprintf("e%d", i+1), "cart", fmt.Sprintf("c%d", i%2), int64(i/2 + 1), `{"n":1}`})
	}
	forward(t, d, evs...)
	return func(s ...stmt) [][][]any { return batch(t, d, s...) }
}

func ints(t *testing.T, rows [][]any, col int) []int64 {
	t.Helper()
	var out []int64
	for _, r := range rows {
		n, err := d1.Int(r[col])
		require.NoError(t, err)
		out = append(out, n)
	}
	return out
}

// The archive's statements on a D1 log of 6 events over two instances:
// the window as retention sees it, a segment recorded only where it
// follows the index, and a prune that deletes only what the guards (read
// in the statement) let go, with the index's hot counts in its batch.
func TestArchiveStatements(t *testing.T) {
	run := archiveDB(t)
	none := `[]`

	g := run(stmt{d1.ArchiveGuards, []any{none}})[0]
	require.Len(t, g, 1)
	assert.Equal(t, []int64{0, 6}, []int64{must(t, g[0][0]), must(t, g[0][1])}, "archived, head")
	assert.Nil(t, g[0][2], "no checkpoint: projected is the head")

	w := run(stmt{d1.ArchiveWindow, []any{0, 4}})[0]
	require.Len(t, w, 4)
	assert.Equal(t, []int64{1, 2, 3, 4}, ints(t, w, 0))
	assert.Equal(t, []int64{3, 3, 3, 3}, ints(t, w, 6), "latest version of each instance")
	assert.Equal(t, []int64{1, 1, 1, 1}, ints(t, w, 7), "first hot version")
	assert.Equal(t, []int64{0, 0, 0, 0}, ints(t, w, 8), "owed")
	size := run(stmt{d1.ArchiveHotBytes, nil})[0]
	assert.Greater(t, must(t, size[0][0]), int64(6*64))
	assert.Equal(t, windowBytes(t, run), must(t, size[0][0]), "the counter is the sum of the window's bytes")

	add := func(first, last int64, sum string) [][][]any {
		return run(stmt{d1.ArchiveAddSegment, []any{first, last, last - first + 1, "2026-01-02T03:04:05.006Z", "2026-01-02T03:04:05.006Z", 10, sum,
			fmt.Sprintf("%020d-%020d.ndjson.gz", first, last), "2026-01-02T03:04:05.006Z"}}, stmt{d1.ArchiveSegmentAt, []any{first}})
	}
	assert.Empty(t, add(2, 3, "x")[1], "a segment that does not follow the index is not recorded")
	r := add(1, 4, "a")[1]
	require.Len(t, r, 1)
	assert.Equal(t, []int64{1, 4, 4}, []int64{must(t, r[0][0]), must(t, r[0][1]), must(t, r[0][2])})
	assert.Equal(t, int64(4), must(t, r[0][8]), "its events D1 holds")
	r = add(1, 4, "a")[1]
	assert.Equal(t, "a", r[0][6], "recording it again changes nothing")

	// A projection at 2 holds back what it has not applied.
	run(stmt{`INSERT INTO projections (name, position, hash, state, updated) VALUES ('p', 2, 'h', 'running', 'now')`, nil})
	res := run(stmt{d1.ArchivePrune, []any{`[1,2,3,4,5]`, `["p"]`}}, stmt{d1.ArchivePruneUpdate, []any{1, 5}})
	assert.Equal(t, []int64{1, 2}, ints(t, res[0], 0), "pruned: archived and projected")
	seg := run(stmt{d1.ArchiveSegments, nil})[0]
	require.Len(t, seg, 1)
	assert.Equal(t, int64(2), must(t, seg[0][8]), "the index's hot count, updated in the batch")
	assert.Equal(t, []any{"cart", "c1", int64(1)}, res[0][1][1:], "each deleted event's instance and version")
	// Without the projection (not the context's), up to the archive.
	res = run(stmt{d1.ArchivePrune, []any{`[3,4,5,6]`, none}}, stmt{d1.ArchivePruneUpdate, []any{3, 6}})
	assert.Equal(t, []int64{3, 4}, ints(t, res[0], 0), "not past the archive; the head stays")
	assert.Equal(t, int64(0), must(t, run(stmt{d1.ArchiveSegments, nil})[0][0][8]))

	// What D1 still holds reads by the page rule.
	page := run(stmt{d1.ReadAll, []any{0, 10, store.PageBytes}})[0]
	assert.Equal(t, []int64{5, 6}, ints(t, page, 0))
}

// The object's snapshot: the newest kept, whatever its hash; the events
// after the one under a hash.
func TestObjectSnapshotStatements(t *testing.T) {
	db := open(t, d1.ObjectSchema, d1.AddMetaColumn, d1.ObjectSnapshotSchema)
	for v := 1; v <= 5; v++ {
		batch(t, db, stmt{d1.ObjectAddEvent, []any{v, fmt.Sprintf("e%d", v), "Added", 1, "2026-01-02T03:04:05.006Z", "c", `{}`, nil}})
	}
	batch(t, db, stmt{d1.ObjectPutSnapshot, []any{3, "h1", `{"n":3}`, "t"}})
	batch(t, db, stmt{d1.ObjectPutSnapshot, []any{2, "h2", `{"n":2}`, "t"}})
	s := batch(t, db, stmt{d1.ObjectSnapshot, []any{"h1"}})[0]
	require.Len(t, s, 1, "an older snapshot does not replace a newer one")
	assert.Equal(t, int64(3), must(t, s[0][0]))
	assert.Equal(t, []int64{4, 5}, ints(t, batch(t, db, stmt{d1.ObjectEventsAfterSnapshot, []any{"h1"}})[0], 0))
	assert.Len(t, batch(t, db, stmt{d1.ObjectEventsAfterSnapshot, []any{"h2"}})[0], 5, "no snapshot under that hash: every event")
	batch(t, db, stmt{d1.ObjectPutSnapshot, []any{4, "h2", `{"n":4}`, "t"}})
	assert.Empty(t, batch(t, db, stmt{d1.ObjectSnapshot, []any{"h1"}})[0], "a newer one replaces it, whatever its hash")

	// Pruning: forwarded ones, owed nothing, up to the snapshot only.
	for v := 1; v <= 4; v++ {
		if v != 3 {
			batch(t, db, stmt{d1.ObjectSetPosition, []any{v * 10, fmt.Sprintf("e%d", v)}})
		}
	}
	batch(t, db, stmt{d1.ObjectAddOutbox, []any{"e2", "mail"}})
	batch(t, db, stmt{d1.ObjectPruneEvents, []any{5, "h1"}})
	assert.Len(t, batch(t, db, stmt{d1.ObjectAllEvents, nil})[0], 5, "no snapshot under that hash: nothing leaves")
	batch(t, db, stmt{d1.ObjectPruneEvents, []any{5, "h2"}})
	assert.Equal(t, []int64{2, 3, 5}, ints(t, batch(t, db, stmt{d1.ObjectAllEvents, nil})[0], 0), "1 and 4 left; 2 is owed, 3 not forwarded, 5 after the snapshot")
	assert.Equal(t, int64(2), must(t, batch(t, db, stmt{d1.ObjectHotFrom, nil})[0][0][0]))
}

func must(t *testing.T, v any) int64 {
	t.Helper()
	n, err := d1.Int(v)
	require.NoError(t, err)
	return n
}

// The index a page at a time: the segments holding positions above
// after, from the one holding after+1, each with the events D1 holds.
func TestArchiveSegmentsAfter(t *testing.T) {
	run := archiveDB(t)
	for _, r := range [][2]int64{{1, 2}, {3, 4}, {5, 6}} {
		run(stmt{d1.ArchiveAddSegment, []any{r[0], r[1], 2, "2026-01-02T03:04:05.006Z", "2026-01-02T03:04:05.006Z", 10, "s",
			fmt.Sprintf("%020d-%020d.ndjson.gz", r[0], r[1]), "2026-01-02T03:04:05.006Z"}})
	}
	run(stmt{d1.ArchivePrune, []any{`[1,2,3]`, `[]`}}, stmt{d1.ArchivePruneUpdate, []any{1, 3}})
	for _, c := range []struct {
		after, n int64
		firsts   []int64
	}{{0, 10, []int64{1, 3, 5}}, {0, 2, []int64{1, 3}}, {2, 10, []int64{3, 5}}, {3, 1, []int64{3}}, {4, 10, []int64{5}}, {6, 10, nil}} {
		rows := run(stmt{d1.ArchiveSegmentsAfter, []any{c.after, c.n}})[0]
		assert.Equal(t, c.firsts, ints(t, rows, 0), "after %d, %d", c.after, c.n)
	}
	rows := run(stmt{d1.ArchiveSegmentsAfter, []any{0, 10}})[0]
	assert.Equal(t, []int64{0, 1, 2}, ints(t, rows, 9), "the events D1 holds of each")
}

// windowBytes is the hot log's size summed over its rows (the bytes
// ArchiveWindow gives each), what ArchiveHotBytes read before the counter.
func windowBytes(t *testing.T, run func(...stmt) [][][]any) int64 {
	t.Helper()
	var n int64
	for _, b := range ints(t, run(stmt{d1.ArchiveWindow, []any{0, 1 << 30}})[0], 5) {
		n += b
	}
	return n
}

// A D1 log from before migration 0004 gains the counter when it is
// applied, with nothing of its log counted yet (base, its head): each
// write that changes the log changes it in its batch (a forward, and one
// retried, which adds nothing; a prune, an update and an insert by hand)
// for the events it counts, those after base and those the counting has
// reached; the counting, a bounded statement at a time, brings counted to
// base, and then the counter is the log's sum. Applied again, the
// migration changes nothing.
func TestHotLogMigration(t *testing.T) {
	d := open(t, string(d1.Migration()), string(d1.MetaMigration()), string(d1.ArchiveMigration()))
	run := func(s ...stmt) [][][]any { return batch(t, d, s...) }
	forward(t, d, ev{"e1", "cart", "a", 1, `{"name":"Zoë ☕"}`}, ev{"e2", "cart", "a", 2, nil}, ev{"e3", "cart", "a", 3, `{"n":3}`})
	_, err := d.Exec(string(d1.HotLogMigration()))
	require.NoError(t, err)
	state := func() [3]int64 {
		t.Helper()
		b, c, base, err := d1.DecodeHotLog(run(stmt{d1.ArchiveHotBytes, nil})[0][0])
		require.NoError(t, err)
		return [3]int64{b, c, base}
	}
	size := func(e ev) int64 {
		p := int64(0)
		if e.payload != nil {
			p = len64(e.payload.(string))
		}
		return 64 + len64(e.id) + len64(e.agg) + len64(e.inst) + len64("Happened") + len64("cmd-"+e.id) + p
	}
	assert.Equal(t, [3]int64{0, 0, 3}, state(), "made: nothing counted, base the head")

	e4, e5 := ev{"e4", "cart", "b", 1, `{"n":1}`}, ev{"e5", "cart", "b", 2, nil}
	forward(t, d, e4)
	forward(t, d, e4, e5)
	assert.Equal(t, [3]int64{size(e4) + size(e5), 0, 3}, state(), "a forward (and one retried) counts what it adds")

	_, err = d.Exec(string(d1.HotLogMigration()))
	require.NoError(t, err)
	assert.Equal(t, [3]int64{size(e4) + size(e5), 0, 3}, state(), "the migration applied again")

	// Positions 1 and 2 leave before the counting reaches them: not
	// counted, nothing to take off; a hand update of 3 neither.
	run(stmt{d1.ArchiveAddSegment, []any{1, 2, 2, "2026-01-02T03:04:05.006Z", "2026-01-02T03:04:05.006Z", 10, "x",
		"00000000000000000001-00000000000000000002.ndjson.gz", "2026-01-02T03:04:05.006Z"}})
	run(stmt{d1.ArchivePrune, []any{`[1,2]`, `[]`}}, stmt{d1.ArchivePruneUpdate, []any{1, 2}})
	run(stmt{`UPDATE events SET payload = '{"n":33}' WHERE position = 3`, nil})
	// An insert at a position the counting has still to reach (by hand:
	// forwards append after base) is counted by the counting, once.
	run(stmt{`INSERT INTO events (position, id, aggregate, instance, version, type, schema_version, time, command_id, payload, meta)
		VALUES (2, 'e2b', 'cart', 'd', 1, 'Happened', 1, '2026-01-02T03:04:05.006Z', 'cmd-e2b', '{}', NULL)`, nil})
	assert.Equal(t, [3]int64{size(e4) + size(e5), 0, 3}, state(), "writes to what is not counted yet")

	run(stmt{d1.ArchiveHotCount, []any{2}})
	assert.Equal(t, [3]int64{size(e4) + size(e5) + size(ev{"e2b", "cart", "d", 1, "{}"}), 2, 3}, state(), "a step counts its positions")
	run(stmt{d1.ArchiveHotCount, []any{2}})
	assert.Equal(t, int64(3), state()[1], "and stops at base")
	run(stmt{d1.ArchiveHotCount, []any{2}})
	got := state()
	assert.Equal(t, windowBytes(t, run), got[0], "counted: the counter is the log's sum")

	// Counted now: an update and a prune of position 3 change it.
	run(stmt{`UPDATE events SET payload = '{"n":"much longer than it was"}' WHERE position = 3`, nil})
	assert.Equal(t, windowBytes(t, run), state()[0], "an update by hand")
	run(stmt{`INSERT INTO events (position, id, aggregate, instance, version, type, schema_version, time, command_id, payload, meta)
		VALUES (9, 'e9', 'cart', 'c', 1, 'Happened', 1, '2026-01-02T03:04:05.006Z', 'cmd-e9', '{}', '{"actor":"ada"}')`, nil})
	assert.Equal(t, windowBytes(t, run), state()[0], "an insert by hand")
	run(stmt{d1.ArchiveAddSegment, []any{3, 3, 1, "2026-01-02T03:04:05.006Z", "2026-01-02T03:04:05.006Z", 10, "x",
		"00000000000000000003-00000000000000000003.ndjson.gz", "2026-01-02T03:04:05.006Z"}})
	run(stmt{d1.ArchivePrune, []any{`[3]`, `[]`}}, stmt{d1.ArchivePruneUpdate, []any{3, 3}})
	assert.Equal(t, windowBytes(t, run), state()[0], "a prune")
}

func len64(s string) int64 { return int64(len(s)) }

// The index's and the window's rows decode as the archiver reads them,
// and a value of the wrong type is an error naming its column.
func TestArchiveDecoders(t *testing.T) {
	run := archiveDB(t)
	run(stmt{d1.ArchiveAddSegment, []any{1, 2, 2, "2026-01-02T03:04:05.006Z", "2026-01-02T03:04:06.007Z", 10, "sum",
		"00000000000000000001-00000000000000000002.ndjson.gz", "2026-01-02T03:04:05.006Z"}})
	s, err := d1.DecodeSegment(run(stmt{d1.ArchiveSegments, nil})[0][0])
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 2, 2, 10, 2}, []int64{s.First, s.Last, s.Count, s.Bytes, s.Hot})
	assert.Equal(t, "sum", s.SHA256)
	assert.Equal(t, "2026-01-02T03:04:06.007Z", d1.FormatTime(s.LastTime))

	tot, err := d1.DecodeTotals(run(stmt{archive.IndexTotals, nil})[0][0])
	require.NoError(t, err)
	assert.Equal(t, []int64{1, 10}, []int64{int64(tot.Count), tot.Bytes})
	assert.Equal(t, "2026-01-02T03:04:05.006Z", d1.FormatTime(*tot.From))
	assert.Equal(t, "2026-01-02T03:04:06.007Z", d1.FormatTime(*tot.To))

	e, err := d1.DecodeEntry(run(stmt{d1.ArchiveSegmentsAfter, []any{0, 10}})[0][0])
	require.NoError(t, err)
	assert.Equal(t, int64(2), e.Counted)

	w := run(stmt{d1.ArchiveWindow, []any{0, 1}})[0][0]
	c, err := d1.DecodeCandidate(w)
	require.NoError(t, err)
	assert.Equal(t, []any{int64(1), "cart", "c0", int64(1), int64(3), false}, []any{c.Position, c.Aggregate, c.Instance, c.Version, c.Latest, c.Owed})

	bad := append([]any{}, w...)
	bad[4] = "yesterday"
	_, err = d1.DecodeCandidate(bad)
	assert.ErrorContains(t, err, "column time")
	_, err = d1.DecodeSegment(w[:8])
	assert.ErrorContains(t, err, "has 8 columns, want 9")
}
