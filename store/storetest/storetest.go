package storetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/store"
)

// concurrency is how many goroutines the concurrency tests start.
const concurrency = 16

// Run runs the conformance suite against the stores that open returns. open
// is called once per subtest and must return an empty store.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"LoadMissing", testLoadMissing},
		{"AppendNewThenLoad", testAppendNewThenLoad},
		{"GapFree", testGapFree},
		{"EventsAfter", testEventsAfter},
		{"ReadAllPaging", testReadAllPaging},
		{"ReadAllPageBytes", testReadAllPageBytes},
		{"VersionConflict", testVersionConflict},
		{"DuplicateKey", testDuplicateKey},
		{"IdempotencyLookup", testIdempotencyLookup},
		{"DuplicateEvent", testDuplicateEvent},
		{"ZeroEventCommit", testZeroEventCommit},
		{"ConcurrentSameInstance", testConcurrentSameInstance},
		{"ConcurrentDifferentInstances", testConcurrentDifferentInstances},
		{"NotAliased", testNotAliased},
		{"JSONRoundTrip", testJSONRoundTrip},

		// Optional abilities: skipped, saying so, on a store without them.
		{"Batch", optional("store.Batcher", testBatch)},
		{"BatchCancelled", optional("store.Batcher", testBatchCancelled)},
		{"SQL", optional("store.SQL", testSQL)},
		{"Hook", optional("store.Hooker", testHook)},
		{"HookFails", optional("store.Hooker", testHookFails)},
		{"OutboxKept", optional("store.Outbox", testOutboxKept)},
		{"OutboxLease", optional("store.Outbox", testOutboxLease)},
		{"OutboxSettle", optional("store.Outbox", testOutboxSettle)},
		{"SnapshotKept", optional("store.Snapshots", testSnapshotKept)},
		{"SnapshotNewest", optional("store.Snapshots", testSnapshotNewest)},
		{"SnapshotFailedCommit", optional("store.Snapshots", testSnapshotFailedCommit)},
		{"KeysClaimReplaceRelease", optional("store.Keys", testKeysClaimReplaceRelease)},
		{"KeysConflict", optional("store.Keys", testKeysConflict)},
		{"KeysBatch", optional("store.Keys", testKeysBatch)},
		{"KeysReplace", optional("store.KeyRebuilder", testKeysReplace)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			require.NotNil(t, s, "open returned a nil store")
			tt.fn(t, s)
		})
	}
}

// base is the time of the first test event: UTC, millisecond precision, so
// any reasonable storage encoding keeps it exactly.
var base = time.Date(2025, 1, 2, 3, 4, 5, 6_000_000, time.UTC)

// newEvent returns an event as a command would hand it to Append: Position,
// Version, Aggregate and Instance are left for the store to set.
func newEvent(id string) store.Event {
	return store.Event{
		ID:            id,
		Type:          "Tested",
		SchemaVersion: 1,
		Time:          base.Add(time.Duration(len(id)) * time.Second),
		CommandID:     "cmd-" + id,
		Payload:       json.RawMessage(fmt.Sprintf(`{"id":%q,"n":1}`, id)),
	}
}

// events returns one new event per id.
func events(ids ...string) []store.Event {
	out := make([]store.Event, len(ids))
	for i, id := range ids {
		out[i] = newEvent(id)
	}
	return out
}

// commit returns a commit of the events whose state records the new version.
func commit(aggregate, instance string, expected int64, evs ...store.Event) store.Commit {
	return store.Commit{
		Aggregate:       aggregate,
		Instance:        instance,
		ExpectedVersion: expected,
		Events:          evs,
		State:           json.RawMessage(fmt.Sprintf(`{"version":%d}`, expected+int64(len(evs)))),
	}
}

func mustAppend(t *testing.T, s store.Store, c store.Commit) []store.Event {
	t.Helper()
	got, err := s.Append(t.Context(), c)
	require.NoError(t, err, "Append(%s/%s, expected %d)", c.Aggregate, c.Instance, c.ExpectedVersion)
	require.Len(t, got, len(c.Events))
	return got
}

func mustLoad(t *testing.T, s store.Store, aggregate, id string) store.Instance {
	t.Helper()
	in, err := s.Load(t.Context(), aggregate, id)
	require.NoError(t, err)
	return in
}

func mustEvents(t *testing.T, s store.Store, aggregate, id string, after int64) []store.Event {
	t.Helper()
	evs, err := s.Events(t.Context(), aggregate, id, after, 0)
	require.NoError(t, err)
	return evs
}

func mustReadAll(t *testing.T, s store.Store, after int64, limit int) []store.Event {
	t.Helper()
	evs, err := s.ReadAll(t.Context(), after, limit)
	require.NoError(t, err)
	return evs
}

// canonical returns raw re-encoded with sorted keys and no insignificant
// space, so two encodings of the same JSON value compare equal. Nil and
// empty input give "".
func canonical(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	if len(bytes.TrimSpace(raw)) == 0 {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), "invalid JSON from store: %s", raw)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return string(out)
}

// eventView is an Event in a form that compares equal across storage
// encodings (time zone, JSON spacing and key order).
type eventView struct {
	ID            string
	Position      int64
	Aggregate     string
	Instance      string
	Version       int64
	Type          string
	SchemaVersion int
	Time          string
	CommandID     string
	Payload       string
	Meta          string
}

func view(t *testing.T, e store.Event) eventView {
	t.Helper()
	return eventView{
		ID:            e.ID,
		Position:      e.Position,
		Aggregate:     e.Aggregate,
		Instance:      e.Instance,
		Version:       e.Version,
		Type:          e.Type,
		SchemaVersion: e.SchemaVersion,
		Time:          e.Time.UTC().Format(time.RFC3339Nano),
		CommandID:     e.CommandID,
		Payload:       canonical(t, e.Payload),
		Meta:          canonical(t, e.Meta),
	}
}

func views(t *testing.T, evs []store.Event) []eventView {
	t.Helper()
	out := make([]eventView, len(evs))
	for i, e := range evs {
		out[i] = view(t, e)
	}
	return out
}

// recorded is e as the store should record it.
func recorded(t *testing.T, e store.Event, aggregate, instance string, version, position int64) eventView {
	t.Helper()
	e.Aggregate, e.Instance, e.Version, e.Position = aggregate, instance, version, position
	return view(t, e)
}

type instanceView struct {
	Aggregate, ID string
	Version       int64
	State         string
}

type idemView struct {
	Key, RequestHash, Response, Time string
}

func viewIdem(t *testing.T, r store.Idempotency) idemView {
	t.Helper()
	return idemView{r.Key, r.RequestHash, canonical(t, r.Response), r.Time.UTC().Format(time.RFC3339Nano)}
}

type ref struct{ aggregate, id string }

// world is everything observable about some instances and keys.
type world struct {
	Log       []eventView
	Instances []instanceView
	Events    [][]eventView
	Keys      map[string]*idemView
}

func observe(t *testing.T, s store.Store, refs []ref, keys []string) world {
	t.Helper()
	w := world{Log: views(t, mustReadAll(t, s, 0, 0)), Keys: map[string]*idemView{}}
	for _, r := range refs {
		in := mustLoad(t, s, r.aggregate, r.id)
		w.Instances = append(w.Instances, instanceView{in.Aggregate, in.ID, in.Version, canonical(t, in.State)})
		w.Events = append(w.Events, views(t, mustEvents(t, s, r.aggregate, r.id, 0)))
	}
	for _, k := range keys {
		rec, ok, err := s.Idempotency(t.Context(), k)
		require.NoError(t, err)
		if ok {
			v := viewIdem(t, rec)
			w.Keys[k] = &v
		} else {
			w.Keys[k] = nil
		}
	}
	return w
}

func testLoadMissing(t *testing.T, s store.Store) {
	in := mustLoad(t, s, "order", "missing")
	assert.Equal(t, "order", in.Aggregate)
	assert.Equal(t, "missing", in.ID)
	assert.Zero(t, in.Version)
	assert.Empty(t, in.State)

	assert.Empty(t, mustEvents(t, s, "order", "missing", 0))
	assert.Empty(t, mustReadAll(t, s, 0, 0))
	_, ok, err := s.Idempotency(t.Context(), "missing")
	require.NoError(t, err)
	assert.False(t, ok)
}

func testAppendNewThenLoad(t *testing.T, s store.Store) {
	evs := events("e1", "e2")
	// Values the caller sets are overwritten by the store.
	evs[0].Position, evs[0].Version, evs[0].Aggregate, evs[0].Instance = 99, 42, "other", "other"
	c := commit("order", "o1", 0, evs...)
	c.State = json.RawMessage(`{"status":"open","lines":2}`)

	got := mustAppend(t, s, c)
	want := []eventView{
		recorded(t, evs[0], "order", "o1", 1, 1),
		recorded(t, evs[1], "order", "o1", 2, 2),
	}
	assert.Equal(t, want, views(t, got), "Append result")
	assert.Equal(t, want, views(t, mustEvents(t, s, "order", "o1", 0)), "Events")
	assert.Equal(t, want, views(t, mustReadAll(t, s, 0, 0)), "ReadAll")

	in := mustLoad(t, s, "order", "o1")
	assert.Equal(t, "order", in.Aggregate)
	assert.Equal(t, "o1", in.ID)
	assert.Equal(t, int64(2), in.Version)
	assert.JSONEq(t, `{"status":"open","lines":2}`, string(in.State))

	// A second commit continues the instance.
	c = commit("order", "o1", 2, events("e3")...)
	c.State = json.RawMessage(`{"status":"closed","lines":2}`)
	got = mustAppend(t, s, c)
	assert.Equal(t, []eventView{recorded(t, newEvent("e3"), "order", "o1", 3, 3)}, views(t, got))
	in = mustLoad(t, s, "order", "o1")
	assert.Equal(t, int64(3), in.Version)
	assert.JSONEq(t, `{"status":"closed","lines":2}`, string(in.State))
}

func testGapFree(t *testing.T, s store.Store) {
	// Interleaved commits over instances of two aggregates, including two
	// aggregates sharing an instance id.
	plan := []struct {
		ref
		ids []string
	}{
		{ref{"order", "a"}, []string{"a1", "a2"}},
		{ref{"order", "b"}, []string{"b1"}},
		{ref{"invoice", "a"}, []string{"ia1", "ia2", "ia3"}},
		{ref{"order", "a"}, []string{"a3"}},
		{ref{"order", "b"}, []string{"b2", "b3"}},
		{ref{"order", "a"}, []string{"a4", "a5"}},
		{ref{"invoice", "a"}, []string{"ia4"}},
	}
	versions := map[ref]int64{}
	perInstance := map[ref][]eventView{}
	var log []eventView
	for _, step := range plan {
		got := mustAppend(t, s, commit(step.aggregate, step.id, versions[step.ref], events(step.ids...)...))
		for i, id := range step.ids {
			versions[step.ref]++
			want := recorded(t, newEvent(id), step.aggregate, step.id, versions[step.ref], int64(len(log))+1)
			assert.Equal(t, want, view(t, got[i]))
			log = append(log, want)
			perInstance[step.ref] = append(perInstance[step.ref], want)
		}
	}

	assert.Equal(t, log, views(t, mustReadAll(t, s, 0, 0)), "global log in commit order")
	for r, want := range perInstance {
		assert.Equal(t, want, views(t, mustEvents(t, s, r.aggregate, r.id, 0)), "Events(%s/%s)", r.aggregate, r.id)
		in := mustLoad(t, s, r.aggregate, r.id)
		assert.Equal(t, versions[r], in.Version, "Load(%s/%s)", r.aggregate, r.id)
		assert.JSONEq(t, fmt.Sprintf(`{"version":%d}`, versions[r]), string(in.State))
	}
}

func testEventsAfter(t *testing.T, s store.Store) {
	mustAppend(t, s, commit("order", "x", 0, events("x1", "x2")...))
	mustAppend(t, s, commit("invoice", "x", 0, events("ix1")...))
	mustAppend(t, s, commit("order", "y", 0, events("y1")...))
	mustAppend(t, s, commit("order", "x", 2, events("x3", "x4", "x5")...))

	all := mustEvents(t, s, "order", "x", 0)
	require.Len(t, all, 5)
	for i, e := range all {
		assert.Equal(t, fmt.Sprintf("x%d", i+1), e.ID)
		assert.Equal(t, int64(i+1), e.Version)
	}
	for after := int64(0); after <= 7; after++ {
		got := mustEvents(t, s, "order", "x", after)
		want := views(t, all[min(after, 5):])
		assert.Equal(t, want, views(t, got), "Events(after=%d)", after)
	}
	assert.Equal(t, views(t, all), views(t, mustEvents(t, s, "order", "x", -1)), "Events(after=-1)")
	assert.Empty(t, mustEvents(t, s, "order", "none", 0))
	assert.Empty(t, mustEvents(t, s, "none", "x", 0))
}

func testReadAllPaging(t *testing.T, s store.Store) {
	var ids []string
	versions := map[string]int64{}
	for i := range 10 {
		inst := []string{"p", "q", "r"}[i%3]
		id := fmt.Sprintf("ev%02d", i)
		mustAppend(t, s, commit("order", inst, versions[inst], newEvent(id)))
		versions[inst]++
		ids = append(ids, id)
	}

	all := mustReadAll(t, s, 0, 0)
	require.Len(t, all, 10)
	for i, e := range all {
		assert.Equal(t, int64(i+1), e.Position)
		assert.Equal(t, ids[i], e.ID)
	}
	assert.Equal(t, views(t, all), views(t, mustReadAll(t, s, 0, -1)), "negative limit means no limit")
	assert.Equal(t, views(t, all), views(t, mustReadAll(t, s, 0, 100)), "limit above the log size")

	for _, limit := range []int{1, 3, 4, 10} {
		var paged []store.Event
		after := int64(0)
		for pages := 0; ; pages++ {
			require.Less(t, pages, 20, "paging does not terminate")
			page := mustReadAll(t, s, after, limit)
			require.LessOrEqual(t, len(page), limit)
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].Position
		}
		assert.Equal(t, views(t, all), views(t, paged), "paging with limit %d", limit)
	}

	assert.Equal(t, views(t, all[4:7]), views(t, mustReadAll(t, s, 4, 3)))
	assert.Empty(t, mustReadAll(t, s, 10, 0))
	assert.Empty(t, mustReadAll(t, s, 50, 5))
}

// A page of the log ends with the event that takes its payloads to
// store.PageBytes: big events come a few a page, so a reader holds at most
// PageBytes and one event; an event without a payload counts nothing.
func testReadAllPageBytes(t *testing.T, s store.Store) {
	big := func(id string) store.Event {
		e := newEvent(id)
		e.Payload = json.RawMessage(`"` + strings.Repeat("x", store.PageBytes*3/8) + `"`)
		return e
	}
	empty := newEvent("empty")
	empty.Payload = nil
	mustAppend(t, s, commit("blob", "b", 0, empty, big("b1"), big("b2"), big("b3"), big("b4"), newEvent("small")))

	var sizes []int
	for after := int64(0); ; {
		page := mustReadAll(t, s, after, 10)
		if len(page) == 0 {
			break
		}
		sizes = append(sizes, len(page))
		after = page[len(page)-1].Position
	}
	// 0, 3/8 and 6/8 of the bound come before the first three payloads of
	// the first page; 9/8 before the fourth: it starts the next page.
	assert.Equal(t, []int{4, 2}, sizes, "page lengths")
	assert.Len(t, mustReadAll(t, s, 0, 0), 6, "no limit: no page")

	// An instance's events page the same way, by version.
	sizes = nil
	for after := int64(0); ; {
		page, err := s.Events(t.Context(), "blob", "b", after, 10)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		sizes = append(sizes, len(page))
		after = page[len(page)-1].Version
	}
	assert.Equal(t, []int{4, 2}, sizes, "page lengths of the instance's events")
	assert.Len(t, mustEvents(t, s, "blob", "b", 0), 6, "no limit: no page")
	page, err := s.Events(t.Context(), "blob", "b", 4, 1)
	require.NoError(t, err)
	if assert.Len(t, page, 1, "limit 1") {
		assert.Equal(t, int64(5), page[0].Version)
	}
}

func testVersionConflict(t *testing.T, s store.Store) {
	mustAppend(t, s, commit("order", "o1", 0, events("e1", "e2")...))
	refs := []ref{{"order", "o1"}, {"order", "new"}}
	keys := []string{"k-conflict"}
	before := observe(t, s, refs, keys)

	for _, tc := range []struct {
		ref
		expected int64
	}{
		{ref{"order", "o1"}, 0},  // stale
		{ref{"order", "o1"}, 1},  // stale
		{ref{"order", "o1"}, 3},  // ahead
		{ref{"order", "o1"}, -1}, // nonsense
		{ref{"order", "new"}, 1}, // instance does not exist
		{ref{"order", "new"}, 5}, // instance does not exist
	} {
		c := commit(tc.aggregate, tc.id, tc.expected, events("e3", "e4")...)
		c.Idempotency = &store.Idempotency{Key: "k-conflict", RequestHash: "h", Response: json.RawMessage(`{}`), Time: base}
		_, err := s.Append(t.Context(), c)
		require.ErrorIs(t, err, store.ErrVersionConflict, "expected version %d on %s/%s", tc.expected, tc.aggregate, tc.id)
		assert.Equal(t, before, observe(t, s, refs, keys), "nothing written")
	}

	// The failed commits consumed neither the event ids nor the key.
	c := commit("order", "o1", 2, events("e3", "e4")...)
	c.Idempotency = &store.Idempotency{Key: "k-conflict", RequestHash: "h", Response: json.RawMessage(`{}`), Time: base}
	got := mustAppend(t, s, c)
	assert.Equal(t, []int64{3, 4}, []int64{got[0].Version, got[1].Version})
	assert.Equal(t, []int64{3, 4}, []int64{got[0].Position, got[1].Position})
}

func testDuplicateKey(t *testing.T, s store.Store) {
	first := commit("order", "a", 0, events("a1")...)
	first.Idempotency = &store.Idempotency{Key: "k1", RequestHash: "hash-a", Response: json.RawMessage(`{"ok":"a"}`), Time: base}
	mustAppend(t, s, first)

	refs := []ref{{"order", "a"}, {"order", "b"}}
	keys := []string{"k1"}
	before := observe(t, s, refs, keys)

	for _, c := range []store.Commit{
		commit("order", "b", 0, events("b1")...), // another instance
		commit("order", "a", 1, events("a2")...), // same instance, right version
		commit("order", "a", 1),                  // no events
	} {
		c.Idempotency = &store.Idempotency{Key: "k1", RequestHash: "hash-b", Response: json.RawMessage(`{"ok":"b"}`), Time: base.Add(time.Hour)}
		_, err := s.Append(t.Context(), c)
		require.ErrorIs(t, err, store.ErrDuplicateKey)
		assert.Equal(t, before, observe(t, s, refs, keys), "nothing written")
	}

	// The event ids of the failed commits were not consumed.
	mustAppend(t, s, commit("order", "b", 0, events("b1")...))
}

func testIdempotencyLookup(t *testing.T, s store.Store) {
	rec := store.Idempotency{
		Key:         "cmd-42",
		RequestHash: "sha256:0123abcd",
		Response:    json.RawMessage(`{"status":200,"body":{"id":"o1","version":1}}`),
		Time:        base.Add(90 * time.Minute),
	}
	c := commit("order", "o1", 0, events("e1")...)
	c.Idempotency = &rec
	mustAppend(t, s, c)

	got, ok, err := s.Idempotency(t.Context(), "cmd-42")
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, "cmd-42", got.Key)
	assert.Equal(t, rec.RequestHash, got.RequestHash)
	assert.JSONEq(t, string(rec.Response), string(got.Response))
	assert.True(t, rec.Time.Equal(got.Time), "time: want %v, got %v", rec.Time, got.Time)

	_, ok, err = s.Idempotency(t.Context(), "cmd-43")
	require.NoError(t, err)
	assert.False(t, ok)
	_, ok, err = s.Idempotency(t.Context(), "CMD-42")
	require.NoError(t, err)
	assert.False(t, ok, "keys are case sensitive")
}

func testDuplicateEvent(t *testing.T, s store.Store) {
	mustAppend(t, s, commit("order", "a", 0, events("e1", "e2")...))
	refs := []ref{{"order", "a"}, {"order", "b"}, {"invoice", "a"}}
	keys := []string{"k-dup"}
	before := observe(t, s, refs, keys)

	for _, c := range []store.Commit{
		commit("order", "a", 2, events("e3", "e1")...),       // same instance
		commit("order", "b", 0, events("e2")...),             // another instance
		commit("invoice", "a", 0, events("e1")...),           // another aggregate
		commit("order", "b", 0, events("e9", "e9")...),       // twice in one commit
		commit("order", "b", 0, events("e8", "e7", "e8")...), // twice in one commit
	} {
		c.Idempotency = &store.Idempotency{Key: "k-dup", RequestHash: "h", Response: json.RawMessage(`{}`), Time: base}
		_, err := s.Append(t.Context(), c)
		require.ErrorIs(t, err, store.ErrDuplicateEvent)
		assert.Equal(t, before, observe(t, s, refs, keys), "nothing written")
	}

	// The fresh ids of the failed commits were not consumed.
	got := mustAppend(t, s, commit("order", "b", 0, events("e3", "e7", "e8", "e9")...))
	assert.Equal(t, int64(3), got[0].Position)
}

func testZeroEventCommit(t *testing.T, s store.Store) {
	mustAppend(t, s, commit("order", "a", 0, events("e1")...))
	log := views(t, mustReadAll(t, s, 0, 0))

	// On an existing instance: version and log unchanged, record stored.
	c := store.Commit{Aggregate: "order", Instance: "a", ExpectedVersion: 1,
		Idempotency: &store.Idempotency{Key: "k-noop", RequestHash: "h", Response: json.RawMessage(`{"noop":true}`), Time: base}}
	got, err := s.Append(t.Context(), c)
	require.NoError(t, err)
	assert.Empty(t, got)
	in := mustLoad(t, s, "order", "a")
	assert.Equal(t, int64(1), in.Version)
	assert.JSONEq(t, `{"version":1}`, string(in.State), "nil State leaves the snapshot unchanged")
	assert.Equal(t, log, views(t, mustReadAll(t, s, 0, 0)))
	rec, ok, err := s.Idempotency(t.Context(), "k-noop")
	require.NoError(t, err)
	require.True(t, ok)
	assert.JSONEq(t, `{"noop":true}`, string(rec.Response))

	// The version is still checked.
	c.ExpectedVersion = 0
	c.Idempotency = &store.Idempotency{Key: "k-noop-2", RequestHash: "h", Response: json.RawMessage(`{}`), Time: base}
	_, err = s.Append(t.Context(), c)
	require.ErrorIs(t, err, store.ErrVersionConflict)
	_, ok, err = s.Idempotency(t.Context(), "k-noop-2")
	require.NoError(t, err)
	assert.False(t, ok)

	// The version does not move, so the next commit still expects 1.
	got = mustAppend(t, s, commit("order", "a", 1, events("e2")...))
	assert.Equal(t, int64(2), got[0].Version)
	assert.Equal(t, int64(2), got[0].Position)

	// On a missing instance: the record is stored, the instance still does
	// not exist.
	c = store.Commit{Aggregate: "order", Instance: "missing", ExpectedVersion: 0,
		Idempotency: &store.Idempotency{Key: "k-missing", RequestHash: "h", Response: json.RawMessage(`{"rejected":true}`), Time: base}}
	_, err = s.Append(t.Context(), c)
	require.NoError(t, err)
	assert.Zero(t, mustLoad(t, s, "order", "missing").Version)
	_, ok, err = s.Idempotency(t.Context(), "k-missing")
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Len(t, mustReadAll(t, s, 0, 0), 2)
}

func testConcurrentSameInstance(t *testing.T, s store.Store) {
	for _, expected := range []int64{0, 1} {
		if expected == 1 {
			// Start from an existing instance as well.
			mustAppend(t, s, commit("order", "seeded", 0, events("seed")...))
		}
		id := map[int64]string{0: "fresh", 1: "seeded"}[expected]
		before := len(mustReadAll(t, s, 0, 0))

		errs := make([]error, concurrency)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range concurrency {
			wg.Go(func() {
				<-start
				c := commit("order", id, expected,
					newEvent(fmt.Sprintf("%s-%d-a", id, i)), newEvent(fmt.Sprintf("%s-%d-b", id, i)))
				c.State = json.RawMessage(fmt.Sprintf(`{"winner":%d}`, i))
				c.Idempotency = &store.Idempotency{Key: fmt.Sprintf("%s-%d", id, i), RequestHash: "h", Response: json.RawMessage(`{}`), Time: base}
				_, errs[i] = s.Append(t.Context(), c)
			})
		}
		close(start)
		wg.Wait()

		winner := -1
		for i, err := range errs {
			if err == nil {
				assert.Equal(t, -1, winner, "more than one append won: %d and %d", winner, i)
				winner = i
				continue
			}
			assert.ErrorIs(t, err, store.ErrVersionConflict, "append %d", i)
		}
		require.NotEqual(t, -1, winner, "no append won")

		in := mustLoad(t, s, "order", id)
		assert.Equal(t, expected+2, in.Version)
		assert.JSONEq(t, fmt.Sprintf(`{"winner":%d}`, winner), string(in.State))
		log := mustReadAll(t, s, 0, 0)
		require.Len(t, log, before+2)
		for j, suffix := range []string{"a", "b"} {
			e := log[before+j]
			assert.Equal(t, fmt.Sprintf("%s-%d-%s", id, winner, suffix), e.ID)
			assert.Equal(t, int64(before+j+1), e.Position)
			assert.Equal(t, expected+int64(j)+1, e.Version)
		}
		for i := range concurrency {
			_, ok, err := s.Idempotency(t.Context(), fmt.Sprintf("%s-%d", id, i))
			require.NoError(t, err)
			assert.Equal(t, i == winner, ok, "idempotency record of append %d", i)
		}
	}
}

func testConcurrentDifferentInstances(t *testing.T, s store.Store) {
	const commits, perCommit = 3, 2
	errs := make([][]error, concurrency)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrency {
		errs[i] = make([]error, commits)
		wg.Go(func() {
			<-start
			inst := fmt.Sprintf("i%02d", i)
			for n := range commits {
				var evs []store.Event
				for k := range perCommit {
					evs = append(evs, newEvent(fmt.Sprintf("%s-%d-%d", inst, n, k)))
				}
				_, errs[i][n] = s.Append(t.Context(), commit("order", inst, int64(n*perCommit), evs...))
				if errs[i][n] != nil {
					return
				}
			}
		})
	}
	close(start)
	wg.Wait()
	for i := range errs {
		for n, err := range errs[i] {
			require.NoError(t, err, "instance %d commit %d", i, n)
		}
	}

	log := mustReadAll(t, s, 0, 0)
	require.Len(t, log, concurrency*commits*perCommit)
	ids := map[string]bool{}
	last := map[string]int64{}
	for i, e := range log {
		assert.Equal(t, int64(i+1), e.Position, "positions gap-free and unique")
		assert.False(t, ids[e.ID], "event %s logged twice", e.ID)
		ids[e.ID] = true
		assert.Equal(t, last[e.Instance]+1, e.Version, "versions of %s in position order", e.Instance)
		last[e.Instance] = e.Version
		var n, k int
		_, err := fmt.Sscanf(strings.TrimPrefix(e.ID, e.Instance+"-"), "%d-%d", &n, &k)
		require.NoError(t, err)
		assert.Equal(t, int64(n*perCommit+k+1), e.Version, "event %s", e.ID)
	}
	for i := range concurrency {
		inst := fmt.Sprintf("i%02d", i)
		in := mustLoad(t, s, "order", inst)
		assert.Equal(t, int64(commits*perCommit), in.Version)
		evs := mustEvents(t, s, "order", inst, 0)
		require.Len(t, evs, commits*perCommit)
		for j := 1; j < len(evs); j++ {
			assert.Less(t, evs[j-1].Position, evs[j].Position)
		}
	}
	// Commits are contiguous in the log: the events of one commit are not
	// interleaved with another's.
	for i := 0; i < len(log); i += perCommit {
		for k := 1; k < perCommit; k++ {
			assert.Equal(t, log[i].Instance, log[i+k].Instance, "commit at position %d interleaved", i+1)
		}
	}
}

func testNotAliased(t *testing.T, s store.Store) {
	evs := events("e1")
	evs[0].Meta = json.RawMessage(`{"trace":"abc"}`)
	c := commit("order", "o1", 0, evs...)
	c.Idempotency = &store.Idempotency{Key: "k1", RequestHash: "h", Response: json.RawMessage(`{"r":"resp"}`), Time: base}
	got := mustAppend(t, s, c)

	refs := []ref{{"order", "o1"}}
	keys := []string{"k1"}
	before := observe(t, s, refs, keys)

	scribble := func(b []byte) {
		for i := range b {
			b[i] = 'X'
		}
	}
	// The caller's commit, after Append.
	scribble(evs[0].Payload)
	scribble(evs[0].Meta)
	scribble(c.State)
	scribble(c.Idempotency.Response)
	evs[0].ID = "changed"
	// What Append returned.
	scribble(got[0].Payload)
	scribble(got[0].Meta)
	assert.Equal(t, before, observe(t, s, refs, keys), "after mutating the commit and the Append result")

	// What the readers return.
	for _, e := range mustEvents(t, s, "order", "o1", 0) {
		scribble(e.Payload)
		scribble(e.Meta)
	}
	for _, e := range mustReadAll(t, s, 0, 0) {
		scribble(e.Payload)
		scribble(e.Meta)
	}
	all := mustReadAll(t, s, 0, 0)
	all[0].ID = "changed"
	all[0].Version = 99
	scribble(mustLoad(t, s, "order", "o1").State)
	rec, ok, err := s.Idempotency(t.Context(), "k1")
	require.NoError(t, err)
	require.True(t, ok)
	scribble(rec.Response)
	assert.Equal(t, before, observe(t, s, refs, keys), "after mutating what the readers returned")
}

func testJSONRoundTrip(t *testing.T, s store.Store) {
	payload := `{
		"string": "héllo \u2603 \"quoted\" \\ back\nslash",
		"int": 9007199254740993,
		"float": -12.5e-3,
		"bool": true,
		"null": null,
		"array": [1, "two", {"three": [3]}, []],
		"object": {"nested": {"deep": {}}},
		"html": "<a href=\"x\">&amp;</a>"
	}`
	meta := `{"traceId":"00-abc-01","user":{"id":"u1","roles":["admin"]}}`
	state := `{"status":"open","total":{"amount":"12.30","currency":"EUR"},"lines":[{"sku":"a","qty":2}],"note":null}`
	response := `{"status":201,"body":{"ok":true,"items":[]}}`

	withMeta := newEvent("with-meta")
	withMeta.Payload = json.RawMessage(payload)
	withMeta.Meta = json.RawMessage(meta)
	noMeta := newEvent("no-meta")
	noMeta.Payload = json.RawMessage(`[]`)
	scalar := newEvent("scalar")
	scalar.Payload = json.RawMessage(`"just a string"`)

	c := commit("order", "o1", 0, withMeta, noMeta, scalar)
	c.State = json.RawMessage(state)
	c.Idempotency = &store.Idempotency{Key: "k1", RequestHash: "h", Response: json.RawMessage(response), Time: base}
	mustAppend(t, s, c)

	for name, got := range map[string][]store.Event{
		"Events":  mustEvents(t, s, "order", "o1", 0),
		"ReadAll": mustReadAll(t, s, 0, 0),
	} {
		require.Len(t, got, 3, name)
		assert.JSONEq(t, payload, string(got[0].Payload), name)
		assert.JSONEq(t, meta, string(got[0].Meta), name)
		assert.JSONEq(t, `[]`, string(got[1].Payload), name)
		assert.Empty(t, got[1].Meta, name)
		assert.JSONEq(t, `"just a string"`, string(got[2].Payload), name)
		// Large integers must not go through float64.
		assert.Contains(t, canonical(t, got[0].Payload), `"int":9007199254740993`, name)
		for _, e := range got {
			assert.True(t, json.Valid(e.Payload), "%s: payload of %s is not valid JSON", name, e.ID)
		}
	}
	assert.JSONEq(t, state, string(mustLoad(t, s, "order", "o1").State))
	rec, ok, err := s.Idempotency(t.Context(), "k1")
	require.NoError(t, err)
	require.True(t, ok)
	assert.JSONEq(t, response, string(rec.Response))

	// Events marshal to the documented wire form.
	b, err := json.Marshal(mustEvents(t, s, "order", "o1", 0)[1])
	require.NoError(t, err)
	var wire map[string]any
	require.NoError(t, json.Unmarshal(b, &wire))
	assert.NotContains(t, wire, "meta", "empty meta is omitted")
	assert.Equal(t, "no-meta", wire["id"])
}
