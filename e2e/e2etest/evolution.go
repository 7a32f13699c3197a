package e2etest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The event evolution story (issue 6), played on both runtimes by
// e2e/native/evolution_test.go and e2e/workerd/evolution_test.go: a shop
// runs a first definition (testdata/evolution/v1/shop.cue), then a second
// one over the same data (v2/shop.cue) in which ItemAdded's payload went
// from {sku, quantity} to {sku, qty, price} through two lenses and
// CartDropped was renamed CartAbandoned. A third (broken/shop.cue) must
// be refused by `cuesource lens check`.
//
// The numbers are chosen so that v2's reducers and projections, written
// against the new payloads only, compute over v1's events exactly what v1
// computed: the lines v1 added have price 0, so they add quantity and no
// value.

// The contexts, relative to the module root.
const (
	EvolutionV1     = "e2e/e2etest/testdata/evolution/v1/shop.cue"
	EvolutionV2     = "e2e/e2etest/testdata/evolution/v2/shop.cue"
	EvolutionBroken = "e2e/e2etest/testdata/evolution/broken/shop.cue"
)

// Command is a command of the story and the status it must be answered
// with.
type Command struct {
	Path, Body string
	Status     int
}

// EvolutionV1Commands run under v1: positions 1 to 7.
var EvolutionV1Commands = []Command{
	{"/cart/a/Open", `{"customer":"ada"}`, http.StatusCreated},
	{"/cart/a/AddItem", `{"sku":"TEA","quantity":2}`, http.StatusOK},
	{"/cart/a/AddItem", `{"sku":"MUG","quantity":3}`, http.StatusOK},
	{"/cart/a/AddItem", `{"sku":"TEA","quantity":1}`, http.StatusOK},
	{"/cart/b/Open", `{"customer":"bob"}`, http.StatusCreated},
	{"/cart/b/AddItem", `{"sku":"TEA","quantity":5}`, http.StatusOK},
	{"/cart/b/Drop", `{"reason":"too dear"}`, http.StatusOK},
}

// EvolutionV2Commands run under v2, over v1's data: positions 8 to 11,
// next to v1's events. The rejections show that v2 decides on the states
// v1 left (b is abandoned) and takes only its own payloads.
var EvolutionV2Commands = []Command{
	{"/cart/a/AddItem", `{"sku":"PEN","qty":4,"price":2.5}`, http.StatusOK},
	{"/cart/a/AddItem", `{"sku":"PEN","quantity":4}`, http.StatusBadRequest}, // v1's payload
	{"/cart/b/AddItem", `{"sku":"PEN","qty":1,"price":1}`, http.StatusUnprocessableEntity},
	{"/cart/b/Drop", `{"reason":"again"}`, http.StatusNotFound}, // no such command any more
	{"/cart/c/Open", `{"customer":"cy"}`, http.StatusCreated},
	{"/cart/c/AddItem", `{"sku":"MUG","qty":1,"price":10}`, http.StatusOK},
	{"/cart/c/Abandon", `{"reason":"later"}`, http.StatusOK},
}

// Play sends cmds in order and fails the test on an answer with another
// status.
func (c *Client) Play(t testing.TB, cmds []Command) {
	t.Helper()
	for _, cmd := range cmds {
		r, err := c.Post(cmd.Path, "", []byte(cmd.Body))
		if err != nil {
			t.Fatalf("POST %s %s: %v", cmd.Path, cmd.Body, err)
		}
		if r.Status != cmd.Status {
			t.Fatalf("POST %s %s: %v, want %d", cmd.Path, cmd.Body, r, cmd.Status)
		}
	}
}

// StoredEvent is an event as the event reads show it, with its
// schemaVersion.
type StoredEvent struct {
	LogEvent
	SchemaVersion int `json:"schemaVersion"`
}

// form is an event's name, schema version and payload.
type form struct {
	typ     string
	version int
	payload string
}

func (f form) String() string { return fmt.Sprintf("%s v%d %s", f.typ, f.version, f.payload) }

// evolved is one event of the story: as stored, and as read through v2.
type evolved struct {
	instance     string
	version      int64
	stored, read form
}

// changed is an event read in another form than it was stored, kept one
// read as stored.
func changed(id string, version int64, stored, read form) evolved {
	return evolved{id, version, stored, read}
}

func kept(id string, version int64, f form) evolved { return evolved{id, version, f, f} }

// evolutionLog is the whole log at the end of the story, in position order
// (position = index + 1). Events without lenses read at version 0.
var evolutionLog = []evolved{
	// Written by v1.
	kept("a", 1, form{"CartOpened", 0, `{"customer":"ada"}`}),
	changed("a", 2, form{"ItemAdded", 0, `{"sku":"TEA","quantity":2}`}, form{"ItemAdded", 2, `{"sku":"TEA","qty":2,"price":0}`}),
	changed("a", 3, form{"ItemAdded", 0, `{"sku":"MUG","quantity":3}`}, form{"ItemAdded", 2, `{"sku":"MUG","qty":3,"price":0}`}),
	changed("a", 4, form{"ItemAdded", 0, `{"sku":"TEA","quantity":1}`}, form{"ItemAdded", 2, `{"sku":"TEA","qty":1,"price":0}`}),
	kept("b", 1, form{"CartOpened", 0, `{"customer":"bob"}`}),
	changed("b", 2, form{"ItemAdded", 0, `{"sku":"TEA","quantity":5}`}, form{"ItemAdded", 2, `{"sku":"TEA","qty":5,"price":0}`}),
	changed("b", 3, form{"CartDropped", 0, `{"reason":"too dear"}`}, form{"CartAbandoned", 0, `{"reason":"too dear"}`}),
	// Written by v2.
	kept("a", 5, form{"ItemAdded", 2, `{"sku":"PEN","qty":4,"price":2.5}`}),
	kept("c", 1, form{"CartOpened", 0, `{"customer":"cy"}`}),
	kept("c", 2, form{"ItemAdded", 2, `{"sku":"MUG","qty":1,"price":10}`}),
	kept("c", 3, form{"CartAbandoned", 0, `{"reason":"later"}`}),
}

// EvolutionV1Events is how many events v1 writes.
const EvolutionV1Events = 7

// EvolutionEvents is how many events the whole story writes.
var EvolutionEvents = len(evolutionLog)

// ReadEvents GETs path (an event read: /events?... or /{agg}/{id}/events)
// and returns its events.
func (c *Client) ReadEvents(t testing.TB, path string) []StoredEvent {
	t.Helper()
	var body struct {
		Events []StoredEvent `json:"events"`
	}
	r, err := c.GetJSON(path, &body)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET %s: %v %v", path, r, err)
	}
	return body.Events
}

// WaitEvents polls GET /events?raw=RAW until it holds n events (a Worker
// forwards its events to D1 after the command's answer; a native server
// has them at once) and returns them.
func (c *Client) WaitEvents(t testing.TB, n int, raw bool) []StoredEvent {
	t.Helper()
	path := fmt.Sprintf("/events?limit=1000&raw=%v", raw)
	var evs []StoredEvent
	Until(30*time.Second, 50*time.Millisecond, func() bool {
		evs = c.ReadEvents(t, path)
		return len(evs) >= n
	})
	return evs
}

// CheckEvolutionLog checks a read of the global log holding the first n
// events of the story: each at its position, of its instance and version,
// and of the type, schemaVersion and payload stored (raw) or read through
// v2's lenses and aliases.
func CheckEvolutionLog(t testing.TB, what string, evs []StoredEvent, n int, raw bool) {
	t.Helper()
	if len(evs) != n {
		t.Errorf("%s: %d events, want %d:\n%s", what, len(evs), n, listEvents(evs))
	}
	for i, ev := range evs[:min(n, len(evs))] {
		checkEvent(t, what, ev, int64(i+1), evolutionLog[i], raw)
	}
}

// CheckEvolutionInstance checks a read of one instance's events when the
// first n events of the story are written, as CheckEvolutionLog does:
// each event must have its position in the global log.
func CheckEvolutionInstance(t testing.TB, what, id string, evs []StoredEvent, n int, raw bool) {
	t.Helper()
	var want []int // indexes in the log
	for i, e := range evolutionLog[:n] {
		if e.instance == id {
			want = append(want, i)
		}
	}
	if len(evs) != len(want) {
		t.Errorf("%s: %d events, want %d:\n%s", what, len(evs), len(want), listEvents(evs))
	}
	for k, ev := range evs[:min(len(evs), len(want))] {
		checkEvent(t, what, ev, int64(want[k]+1), evolutionLog[want[k]], raw)
	}
}

func checkEvent(t testing.TB, what string, ev StoredEvent, pos int64, want evolved, raw bool) {
	t.Helper()
	f := want.read
	if raw {
		f = want.stored
	}
	if ev.Position != pos || ev.Aggregate != "cart" || ev.Instance != want.instance || ev.Version != want.version ||
		ev.Type != f.typ || ev.SchemaVersion != f.version || !SameJSON(ev.Payload, []byte(f.payload)) {
		t.Errorf("%s: the event at position %d is cart %s v%d %s v%d %s, want cart %s v%d %s", what, ev.Position,
			ev.Instance, ev.Version, ev.Type, ev.SchemaVersion, ev.Payload, want.instance, want.version, f)
	}
}

func listEvents(evs []StoredEvent) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  %d: %s %s v%d %s v%d %s\n", ev.Position, ev.Aggregate, ev.Instance, ev.Version, ev.Type, ev.SchemaVersion, ev.Payload)
	}
	return b.String()
}

// EvolutionState is an instance as GET /{agg}/{id} shows it.
type EvolutionState struct {
	Version int64           `json:"version"`
	State   json.RawMessage `json:"state"`
}

// EvolutionStatesV1 are the carts after v1's commands: what v2 must find,
// and compute again from the events through its lenses.
var EvolutionStatesV1 = map[string]EvolutionState{
	"a": {4, json.RawMessage(`{"status":"open","customer":"ada","items":{"TEA":3,"MUG":3},"count":6}`)},
	"b": {3, json.RawMessage(`{"status":"abandoned","customer":"bob","items":{"TEA":5},"count":5}`)},
}

// EvolutionStatesV2 are the carts at the end of the story.
var EvolutionStatesV2 = map[string]EvolutionState{
	"a": {5, json.RawMessage(`{"status":"open","customer":"ada","items":{"TEA":3,"MUG":3,"PEN":4},"count":10}`)},
	"b": {3, json.RawMessage(`{"status":"abandoned","customer":"bob","items":{"TEA":5},"count":5}`)},
	"c": {3, json.RawMessage(`{"status":"abandoned","customer":"cy","items":{"MUG":1},"count":1}`)},
}

// CheckStates checks GET /cart/{id} of every cart in want.
func (c *Client) CheckStates(t testing.TB, what string, want map[string]EvolutionState) {
	t.Helper()
	for id, w := range want {
		var got EvolutionState
		r, err := c.GetJSON(InstancePath("cart", id), &got)
		if err != nil || r.Status != http.StatusOK {
			t.Errorf("%s: GET /cart/%s: %v %v", what, id, r, err)
			continue
		}
		if got.Version != w.Version || !SameJSON(got.State, w.State) {
			t.Errorf("%s: cart %s is at version %d with %s, want version %d with %s", what, id, got.Version, got.State, w.Version, w.State)
		}
	}
}

// The rows of the story's queries. Under v2 the lines v1 added are worth
// 0 and the others their qty × price.
var (
	EvolutionRowsV1 = map[string]string{
		"all_carts": `[{"cart":"a","customer":"ada","status":"open","count":6},
			{"cart":"b","customer":"bob","status":"abandoned","count":5}]`,
		"all_skus": `[{"sku":"MUG","quantity":3,"lines":1},{"sku":"TEA","quantity":8,"lines":3}]`,
	}
	EvolutionRowsV2 = map[string]string{
		"all_carts": `[{"cart":"a","customer":"ada","status":"open","count":10,"value":10},
			{"cart":"b","customer":"bob","status":"abandoned","count":5,"value":0},
			{"cart":"c","customer":"cy","status":"abandoned","count":1,"value":10}]`,
		"all_skus": `[{"sku":"MUG","quantity":4,"lines":2,"revenue":10},
			{"sku":"PEN","quantity":4,"lines":1,"revenue":10},
			{"sku":"TEA","quantity":8,"lines":3,"revenue":0}]`,
	}
)

// Projection is a projection as GET /projections shows it.
type Projection struct {
	Name     string `json:"name"`
	Mode     string `json:"mode"`
	State    string `json:"state"`
	Position int64  `json:"position"`
	Lag      int64  `json:"lag"`
	Hash     string `json:"hash"`
	Error    string `json:"error"`
}

// Projections is GET /projections, by name.
func (c *Client) Projections(t testing.TB) map[string]Projection {
	t.Helper()
	var body struct {
		Projections []Projection `json:"projections"`
	}
	r, err := c.GetJSON("/projections", &body)
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("GET /projections: %v %v", r, err)
	}
	out := map[string]Projection{}
	for _, p := range body.Projections {
		out[p.Name] = p
	}
	return out
}

// WaitRows waits until every projection is running at position n and
// every query of want gives its rows; it fails the test with the last
// answers otherwise. It returns the projections.
func (c *Client) WaitRows(t testing.TB, what string, n int64, want map[string]string) map[string]Projection {
	t.Helper()
	var ps map[string]Projection
	var diffs []string
	if Until(30*time.Second, 50*time.Millisecond, func() bool {
		diffs = nil
		ps = c.Projections(t)
		for name, p := range ps {
			if p.State != "running" || p.Position != n || p.Lag != 0 {
				diffs = append(diffs, fmt.Sprintf("projection %s: %+v, want running at position %d", name, p, n))
			}
		}
		for q, rows := range want {
			var body struct {
				Rows json.RawMessage `json:"rows"`
			}
			r, err := c.GetJSON("/queries/"+q, &body)
			if err != nil || r.Status != http.StatusOK || !SameJSON(body.Rows, []byte(rows)) {
				diffs = append(diffs, fmt.Sprintf("query %s: %v %v, want rows %s", q, r, err, rows))
			}
		}
		return len(diffs) == 0
	}) {
		return ps
	}
	t.Fatalf("%s: within 30s:\n  %s", what, strings.Join(diffs, "\n  "))
	return nil
}

// CheckLensCheckPasses checks the output of `cuesource lens check` on v2
// over the whole story.
func CheckLensCheckPasses(t testing.TB, what string, stdout, stderr []byte, code int) {
	t.Helper()
	want := fmt.Sprintf("%d event(s) of 3 instance(s) read, 0 failed\n", EvolutionEvents)
	if code != 0 || string(stdout) != want {
		t.Errorf("%s: exit %d, want 0, with\n%s\nwant\n%s\nstderr:\n%s", what, code, stdout, want, stderr)
	}
}

// CheckLensCheckFails checks the output of `cuesource lens check` on the
// broken definition over the whole story: exit 1 and, one line each, the
// three events it cannot read, by position, type, stored version and
// lens.
func CheckLensCheckFails(t testing.TB, what string, stdout, stderr []byte, code int) {
	t.Helper()
	t.Logf("%s: exit %d:\n%s", what, code, stdout)
	if code != 1 {
		t.Errorf("%s: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", what, code, stdout, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(string(stdout), "\n"), "\n")
	want := [][]string{
		// v1's MUG line: its lens fails.
		{"position 3: cart.ItemAdded stored at version 0 (cart a): lens 0: ", "MUG"},
		// v2's lines: stored at a version the broken chain does not reach.
		{"position 8: cart.ItemAdded stored at version 2 (cart a): ", "no lens reads version 2"},
		{"position 10: cart.ItemAdded stored at version 2 (cart c): ", "no lens reads version 2"},
		{fmt.Sprintf("%d event(s) of 3 instance(s) read, 3 failed", EvolutionEvents)},
	}
	if len(lines) != len(want) {
		t.Errorf("%s: %d lines, want %d:\n%s", what, len(lines), len(want), stdout)
		return
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w[0]) || len(w) > 1 && !strings.Contains(lines[i], w[1]) {
			t.Errorf("%s: line %d is\n  %s\nwant it to start with %q and hold %q", what, i+1, lines[i], w[0], w[1:])
		}
	}
}

// StreamEvents opens path (GET /events, with its query) as a live stream
// (Server-Sent Events), reads n frames and closes it; it fails the test
// when they do not come within 15s. Each frame's id must be its event's
// position, and its name aggregate.Type.
func (c *Client) StreamEvents(t testing.TB, path string, n int) []StoredEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s as a stream: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("GET %s as a stream: %d %s: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	var out []StoredEvent
	var id, name string
	var ev StoredEvent
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for len(out) < n && sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "id: "):
			id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev); err != nil {
				t.Fatalf("GET %s as a stream: frame %s: %v: %s", path, id, err, line)
			}
		case line == "" && id != "":
			if id != strconv.FormatInt(ev.Position, 10) || name != ev.Aggregate+"."+ev.Type {
				t.Errorf("GET %s as a stream: frame id %s, event %s, for %s.%s at position %d", path, id, name, ev.Aggregate, ev.Type, ev.Position)
			}
			out = append(out, ev)
			id, name, ev = "", "", StoredEvent{}
		}
	}
	if len(out) < n {
		t.Fatalf("GET %s as a stream: %d frames, want %d (%v)", path, len(out), n, sc.Err())
	}
	return out
}

// PlayEvolutionV2 is v2's part of the story, the same on every runtime,
// once v2 runs over v1's data: v1's states and every event read (the log,
// each cart's, upgraded and raw) at the start; v2's commands; then the
// reads again, the live stream, the states, and the projections rebuilt
// (before are their statuses under v1). noDrift rehydrates one cart and
// checks it has not drifted from its version.
func (c *Client) PlayEvolutionV2(t testing.TB, before map[string]Projection, noDrift func(id string, version int64)) {
	t.Helper()
	c.CheckStates(t, "v2 at start", EvolutionStatesV1)
	c.checkEvolvedReads(t, "v2 at start", EvolutionV1Events)
	for id, s := range EvolutionStatesV1 {
		noDrift(id, s.Version)
	}

	// New commands append at v2's versions next to v1's events.
	c.Play(t, EvolutionV2Commands)
	n := EvolutionEvents
	c.checkEvolvedReads(t, "v2", n)
	CheckEvolutionLog(t, "v2: GET /events as a stream", c.StreamEvents(t, "/events", n), n, false)
	CheckEvolutionLog(t, "v2: GET /events?raw=true as a stream", c.StreamEvents(t, "/events?raw=true", n), n, true)
	c.CheckStates(t, "v2", EvolutionStatesV2)
	for id, s := range EvolutionStatesV2 {
		noDrift(id, s.Version)
	}

	// Both projections changed: rebuilt from the whole log through the
	// lenses.
	after := c.WaitRows(t, "v2's projections", int64(n), EvolutionRowsV2)
	for name, p := range after {
		if p.Hash == before[name].Hash {
			t.Errorf("projection %s has the hash %s under v2 and under v1: its definition changed", name, p.Hash)
		}
	}
}

// checkEvolvedReads checks every event read of a runtime holding the
// first n events of the story: the log (waited for, since on Workers it
// fills after the commands answer) and each cart's, upgraded and raw.
func (c *Client) checkEvolvedReads(t testing.TB, what string, n int) {
	t.Helper()
	for _, raw := range []bool{false, true} {
		q := ""
		if raw {
			q = "?raw=true"
		}
		CheckEvolutionLog(t, what+": GET /events"+q, c.WaitEvents(t, n, raw), n, raw)
		for _, id := range []string{"a", "b", "c"} {
			path := InstancePath("cart", id) + "/events" + q
			CheckEvolutionInstance(t, what+": GET "+path, id, c.ReadEvents(t, path), n, raw)
		}
	}
}

// Ledger is a context with a tiny hot budget (LedgerBudget bytes), which
// keeps the archiver working: the native and workerd archive tests run
// it. Relative to the repository's root.
const (
	Ledger       = "e2e/e2etest/testdata/ledger/ledger.cue"
	LedgerBudget = 12000
)
