package edge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// The archive on Workers: package archive's steps, reader and status over
// D1 (the hot log and the segment index, d1Hot) and an R2 bucket (r2),
// with segments compressed by the platform's CompressionStream (shellGzip).
// The Archiver object runs the steps from its alarm ("archive" script):
// one object, so one archiver at a time, as natively one loop.

// hotCountSteps bounds the counting of D1's log before its counter
// existed that one read of its size does; hotCountBytes is about what one
// statement of it reads (at most archive.HotLogStep positions), and
// hotCountFirst the positions of the first, whose events' size is not
// known yet (16 of the largest events a context may write are 30 MB).
const (
	hotCountSteps = 10
	hotCountBytes = 32 << 20
	hotCountFirst = 16
)

// Timings of the Archiver object's alarm. After a pass that found nothing
// to do, the alarm comes back after archive.DefaultEvery
// (CUESOURCE_ARCHIVE_EVERY) while a keepFor rule lets events leave as
// time goes by; otherwise at the next kick (a forwarding).
const (
	// archiveSteps bounds the steps of one alarm: each is one D1 batch
	// of deletions (and at most one segment written), so one alarm holds
	// D1 for archiveSteps short transactions, never one long one.
	archiveSteps = 20
	// archiveIdle is when the alarm comes back without a keepFor rule:
	// kicks bring it sooner.
	archiveIdle = time.Minute
	// archiveBehind is when it comes back while a projection is behind
	// the log (its progress lets events go, but kicks nothing).
	archiveBehind = time.Second
)

// via is h, or (nil) the host ctx carries (withHost): the Core's reader,
// whose last decoded segment every script shares, performs each read's
// operations through the host of the script that reads.
func via(ctx context.Context, h *host) *host {
	if h != nil {
		return h
	}
	h, _ = hostOf(ctx)
	return h
}

// d1Hot is archive.Hot and archive.Index over D1, through the shell.
type d1Hot struct {
	c           *Core
	h           *host
	projections string           // the context's projections, a JSON array
	clock       func() time.Time // the script's, for the index's created
}

var _ archive.Hot = (*d1Hot)(nil)

func (c *Core) hotOf(h *host, now time.Time) *d1Hot {
	return &d1Hot{c: c, h: h, projections: c.namesJSON, clock: func() time.Time { return now }}
}

func (d *d1Hot) Guards(ctx context.Context) (retention.Guards, error) {
	res, err := via(ctx, d.h).query(d1.ArchiveGuards, d.projections)
	if err != nil {
		return retention.Guards{}, err
	}
	if len(res.Rows) != 1 || len(res.Rows[0]) != 3 {
		return retention.Guards{}, fmt.Errorf("archive guards: want one row of 3 columns")
	}
	var g retention.Guards
	r := res.Rows[0]
	if g.Archived, err = d1.Int(r[0]); err != nil {
		return g, fmt.Errorf("archive guards: archived: %w", err)
	}
	if g.Head, err = d1.Int(r[1]); err != nil {
		return g, fmt.Errorf("archive guards: head: %w", err)
	}
	g.Projected = g.Head
	if r[2] != nil {
		if g.Projected, err = d1.Int(r[2]); err != nil {
			return g, fmt.Errorf("archive guards: projected: %w", err)
		}
	}
	return g, nil
}

// HotBytes reads D1's counter. While the events D1 held when the counter
// was made are still being counted, it counts up to hotCountSteps more
// bounded statements first, each over as many positions as hold about
// hotCountBytes by the last one's measure, and answers an
// *archive.CountingError if the counting is not done.
func (d *d1Hot) HotBytes(ctx context.Context) (int64, error) {
	n := int64(hotCountFirst)
	var last int64 // bytes before the last step
	for step := 0; ; step++ {
		res, err := via(ctx, d.h).query(d1.ArchiveHotBytes)
		if err != nil {
			return 0, err
		}
		if len(res.Rows) != 1 {
			return 0, fmt.Errorf("hot log size: no counter (is migration %s applied?)", d1.HotLogMigrationName)
		}
		bytes, counted, base, err := d1.DecodeHotLog(res.Rows[0])
		if err != nil || counted >= base {
			return bytes, err
		}
		if step > 0 {
			// Positions of about hotCountBytes, by the last step's bytes a
			// position: large events make a step cover fewer.
			per := max((bytes-last)/n, 1)
			n = min(max(hotCountBytes/per, hotCountFirst), archive.HotLogStep)
		}
		if step == hotCountSteps {
			return 0, &archive.CountingError{Counted: counted, Base: base}
		}
		last = bytes
		if _, err := via(ctx, d.h).query(d1.ArchiveHotCount, n); err != nil {
			return 0, err
		}
	}
}

func (d *d1Hot) Window(ctx context.Context, after int64, n int) ([]retention.Candidate, error) {
	res, err := via(ctx, d.h).query(d1.ArchiveWindow, after, n)
	if err != nil {
		return nil, err
	}
	out := make([]retention.Candidate, 0, len(res.Rows))
	for _, r := range res.Rows {
		c, err := d1.DecodeCandidate(r)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (d *d1Hot) Hot(ctx context.Context, after int64, n int) ([]store.Event, error) {
	if n <= 0 {
		return nil, nil
	}
	res, err := via(ctx, d.h).query(d1.ReadAll, after, n, store.PageBytes)
	if err != nil {
		return nil, err
	}
	return eventsOfRows(res.Rows)
}

// AddSegment records s in one batch with a read of the index at its
// first position: the index holds s (now or from before), or the step
// is refused.
func (d *d1Hot) AddSegment(ctx context.Context, s archive.Segment) error {
	var res [][]map[string]any
	stmts := []Statement{
		stmt(d1.ArchiveAddSegment, s.First, s.Last, s.Count, d1.FormatTime(s.FirstTime), d1.FormatTime(s.LastTime), s.Bytes, s.SHA256, s.Name, d1.FormatTime(d.clock())),
		stmt(d1.ArchiveSegmentAt, s.First),
	}
	if err := via(ctx, d.h).do(Op{Kind: "batch", Statements: stmts}, &res); err != nil {
		return err
	}
	if len(res) != 2 || len(res[1]) != 1 || res[1][0]["last"] != float64(s.Last) || res[1][0]["sha256"] != s.SHA256 {
		return fmt.Errorf("archive segment %d-%d does not follow the archive's index (another step recorded other segments)", s.First, s.Last)
	}
	return nil
}

// Prune deletes in one D1 batch, the index's hot counts updated in it.
func (d *d1Hot) Prune(ctx context.Context, positions []int64) (int, error) {
	h := via(ctx, d.h)
	if len(positions) == 0 {
		return 0, nil
	}
	list, _ := json.Marshal(positions)
	var res [][]map[string]any
	stmts := []Statement{
		stmt(d1.ArchivePrune, string(list), d.projections),
		stmt(d1.ArchivePruneUpdate, positions[0], positions[len(positions)-1]),
	}
	if err := h.do(Op{Kind: "batch", Statements: stmts}, &res); err != nil {
		return 0, err
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("prune: batch answered %d results for 2 statements", len(res))
	}
	// Each instance's object lets go of its own copies of what left D1.
	upto := map[[2]string]int64{}
	var order [][2]string
	for _, r := range res[0] {
		agg, _ := r["aggregate"].(string)
		id, _ := r["instance"].(string)
		v, _ := r["version"].(float64)
		k := [2]string{agg, id}
		if _, ok := upto[k]; !ok {
			order = append(order, k)
		}
		upto[k] = max(upto[k], int64(v))
	}
	for _, k := range order {
		if err := d.c.pruneObject(h, k[0], k[1], upto[k]); err != nil {
			// Its copies stay until the next prune of the instance.
			_ = h.do(Op{Kind: "log", Method: "warn", Arg: fmt.Sprintf("cuesource: archive: %s %s keeps its events: %v", k[0], k[1], err)}, nil)
		}
	}
	return len(res[0]), nil
}

// pruneObject has an instance's object delete its events up to upto,
// which have left D1 (d1.ObjectPruneEvents keeps those a delivery owes,
// and those after its snapshot under the current definition). The
// statement runs among the reads of a transact: it needs no decision.
func (c *Core) pruneObject(h *host, agg, id string, upto int64) error {
	a := c.prog.Aggregates[agg]
	if a == nil {
		return nil
	}
	t := transact{Reads: []Statement{stmt(d1.ObjectPruneEvents, upto, a.Hash)}}
	return h.transact(agg, id, t, nil)
}

// hotFrom is the version an instance's object's history begins at (1
// when none of it left, or when nothing leaves D1).
func (c *Core) hotFrom(h *host, agg, id string) (int64, error) {
	if !c.archiving() {
		return 1, nil
	}
	var rows [][]struct {
		V *int64 `json:"v"`
	}
	t := transact{Reads: []Statement{stmt(d1.ObjectHotFrom)}}
	if err := h.transact(agg, id, t, &rows); err != nil {
		return 0, err
	}
	if len(rows) != 1 || len(rows[0]) == 0 || rows[0][0].V == nil {
		return 0, nil
	}
	return *rows[0][0].V, nil
}

// older reads an instance's versions after..upto that its object no
// longer holds, from the log (the archive included) from the instance's
// first event (where its object recorded it, else from the log's start)
// up to position end (its object's first event; 0: the log's end), as
// natively: store.ScanInstance.
func (c *Core) older(h *host, agg, id string, after, end, upto int64) ([]store.Event, error) {
	var rows [][]struct {
		P *int64 `json:"p"`
	}
	if err := h.transact(agg, id, transact{Reads: []Statement{stmt(d1.ObjectFirst)}}, &rows); err != nil {
		return nil, err
	}
	start := int64(0)
	if len(rows) == 1 && len(rows[0]) > 0 && rows[0][0].P != nil {
		start = max(*rows[0][0].P-1, 0)
	}
	b := &backend{h: h, c: c}
	return store.ScanInstance(context.Background(), b.ReadAll, agg, id, start, end, after, upto)
}

func (d *d1Hot) Segments(ctx context.Context) ([]archive.Segment, error) {
	res, err := via(ctx, d.h).query(d1.ArchiveSegments)
	if err != nil {
		return nil, err
	}
	out := make([]archive.Segment, 0, len(res.Rows))
	for _, r := range res.Rows {
		s, err := d1.DecodeSegment(r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// Totals implements archive.Hot.
func (d *d1Hot) Totals(ctx context.Context, n int) (archive.Totals, error) {
	var t archive.Totals
	res, err := via(ctx, d.h).query(archive.IndexTotals)
	if err != nil {
		return t, err
	}
	if len(res.Rows) != 1 {
		return t, fmt.Errorf("archive index totals: want one row")
	}
	if t, err = d1.DecodeTotals(res.Rows[0]); err != nil {
		return t, err
	}
	if res, err = via(ctx, d.h).query(archive.IndexNewest, n); err != nil {
		return t, err
	}
	for _, r := range res.Rows {
		s, err := d1.DecodeSegment(r)
		if err != nil {
			return t, err
		}
		t.Newest = append(t.Newest, s)
	}
	slices.Reverse(t.Newest)
	return t, nil
}

func (d *d1Hot) SegmentAt(ctx context.Context, pos int64) (archive.Segment, bool, error) {
	res, err := via(ctx, d.h).query(d1.ArchiveSegmentAt, pos)
	if err != nil || len(res.Rows) == 0 {
		return archive.Segment{}, false, err
	}
	s, err := d1.DecodeSegment(res.Rows[0])
	if err != nil || s.Last < pos {
		return archive.Segment{}, false, err
	}
	return s, true, nil
}

// SegmentsAfter implements archive.Pager: GET /admin/archive/segments.
func (d *d1Hot) SegmentsAfter(ctx context.Context, after int64, n int) ([]archive.Entry, error) {
	res, err := via(ctx, d.h).query(d1.ArchiveSegmentsAfter, after, n)
	if err != nil {
		return nil, err
	}
	out := make([]archive.Entry, 0, len(res.Rows))
	for _, r := range res.Rows {
		e, err := d1.DecodeEntry(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// r2 is archive.Target over the Worker's R2 bucket (the ARCHIVE
// binding), through the shell: "r2put", "r2get", "r2head", "r2list".
type r2 struct{ h *host }

var _ archive.Target = r2{}

func (r2) String() string { return "R2 bucket ARCHIVE" }

func (t r2) Put(ctx context.Context, name string, data []byte) error {
	return via(ctx, t.h).do(Op{Kind: "r2put", Method: name, Arg: base64.StdEncoding.EncodeToString(data)}, nil)
}

func (t r2) Get(ctx context.Context, name string) ([]byte, error) {
	var b64 *string
	if err := via(ctx, t.h).do(Op{Kind: "r2get", Method: name}, &b64); err != nil {
		return nil, err
	}
	if b64 == nil {
		return nil, fmt.Errorf("%w: %s in %s", archive.ErrNotFound, name, t)
	}
	return base64.StdEncoding.DecodeString(*b64)
}

// Size implements archive.Sizer: R2's head of the object, so that one
// over the admin route's bound is never read into the isolate.
func (t r2) Size(ctx context.Context, name string) (int64, error) {
	var size *int64
	if err := via(ctx, t.h).do(Op{Kind: "r2head", Method: name}, &size); err != nil {
		return 0, err
	}
	if size == nil {
		return 0, fmt.Errorf("%w: %s in %s", archive.ErrNotFound, name, t)
	}
	return *size, nil
}

func (t r2) List(ctx context.Context) ([]string, error) { return t.ListAfter(ctx, "", -1) }

// ListAfter implements archive.ListerAfter: R2 lists from the name
// after `after` (startAfter), a call per 1000 names, keeping up to n
// (n < 0: every one).
func (t r2) ListAfter(ctx context.Context, after string, n int) ([]string, error) {
	var out []string
	arg := r2List{StartAfter: after}
	for {
		var page struct {
			Names  []string `json:"names"`
			Cursor string   `json:"cursor"`
		}
		if err := via(ctx, t.h).do(Op{Kind: "r2list", Arg: arg}, &page); err != nil {
			return nil, err
		}
		for _, name := range page.Names {
			if out = append(out, name); len(out) == n {
				return out, nil
			}
		}
		if page.Cursor == "" {
			return out, nil
		}
		arg.Cursor = page.Cursor
	}
}

// r2List is the "r2list" op's R2 list options: the names after
// StartAfter, from Cursor on (a truncated listing's).
type r2List struct {
	Cursor     string `json:"cursor,omitempty"`
	StartAfter string `json:"startAfter,omitempty"`
}

// shellGzip is archive.Codec by the platform's CompressionStream and
// DecompressionStream ("gzip"), through the shell: Go's compress/flate
// would cost the engine's wasm more than its budget allows. Segments are
// gzip either way: each runtime reads the other's.
type shellGzip struct{ h *host }

func (g shellGzip) Compress(ctx context.Context, lines []byte) ([]byte, error) {
	return g.codec(ctx, "gzip", lines)
}

func (g shellGzip) Decompress(ctx context.Context, data []byte) ([]byte, error) {
	return g.codec(ctx, "gunzip", data)
}

func (g shellGzip) codec(ctx context.Context, kind string, in []byte) ([]byte, error) {
	var out string
	if err := via(ctx, g.h).do(Op{Kind: kind, Arg: base64.StdEncoding.EncodeToString(in)}, &out); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(out)
}

// archiving says whether events may leave D1: the context declares a
// retention and the Worker has an R2 bucket to keep them in.
func (c *Core) archiving() bool { return c.cfg.Archive && c.retention.Active() }

// readWhole reads a page of the log after a position: D1's as far as it
// is contiguous from after+1 (hot is the hot page read), else the
// archive's, as natively (archive.Whole). The Core's reader (nil without
// a bucket) is shared by the scripts, so that one going through the log
// in order decodes each segment once; each read passes its script's host
// in its context (withHost).
func (c *Core) readWhole(h *host, after int64, limit int, hot []store.Event) (evs []store.Event, fromHot bool, err error) {
	var cold store.ReadPage
	if c.reader != nil {
		cold = c.reader.ReadAll
	}
	return archive.Whole(withHost(context.Background(), h), hot, after, limit, cold, "D1", "the Worker has no R2 bucket (ARCHIVE) to read them from")
}

type archiveInput struct {
	Call string    `json:"call"` // "kick" or "alarm"
	Now  time.Time `json:"now"`
}

// ArchiveReport is the answer of the archive script.
type ArchiveReport struct {
	archive.Report
	Done bool `json:"done"`
}

// archiveRun is the Archiver object's script. A kick (a forwarding added
// events) has the alarm fire soon; the alarm runs up to archiveSteps of
// the archiver's steps and comes back at once when there is more to do,
// after archiveEvery when a keepFor rule may let events go with time,
// else at the next kick.
func (c *Core) archiveRun(in []byte, h *host) (any, error) {
	var ai archiveInput
	if err := decodeInput(in, &ai); err != nil {
		return nil, err
	}
	o := &object{c: c, h: h, now: ai.Now, inAlarm: ai.Call == "alarm"}
	if !c.archiving() {
		return ArchiveReport{Done: true}, nil
	}
	if ai.Call == "kick" {
		// Only ever sooner: a kick that moved a due alarm (or the one
		// running) later, as the objects' alarms may, would starve the
		// Archiver under a steady stream of kicks.
		return ArchiveReport{}, setAlarm(h, ai.Now.Add(alarmFloor), ai.Now, false)
	}
	st := c.arch
	if !st.mu.TryLock() {
		// Another alarm's run still holds it (the object runs one at a
		// time, but a run outlives an alarm the platform gave up on):
		// look again soon.
		return ArchiveReport{}, o.alarm(ai.Now.Add(archiveBehind))
	}
	defer st.mu.Unlock()
	st.h, st.now = h, ai.Now
	if st.a == nil {
		st.a = c.newArchiver(st)
	}
	a := st.a
	ctx := withHost(context.Background(), h)
	hot := c.hotOf(h, ai.Now)
	g, err := hot.Guards(ctx)
	if err != nil {
		return nil, err
	}
	head := g.Head
	var rep ArchiveReport
	for n := 0; n < archiveSteps && !rep.Done; n++ {
		r, done, err := a.Step(ctx)
		rep.Archived += r.Archived
		rep.Segments += r.Segments
		rep.Pruned += r.Pruned
		rep.Done = done
		if err != nil {
			o.log("error", "archive: "+err.Error())
			return rep, o.alarm(ai.Now.Add(retryAfterCommit))
		}
	}
	if !rep.Done {
		return rep, o.alarm(ai.Now.Add(alarmFloor))
	}
	// Done: after archiveEvery when a keepFor rule lets events go with
	// time, else at the next kick (archiveIdle in case one is lost).
	next := archiveIdle
	if c.keepFor {
		next = c.archiveEvery
	}
	if err := o.alarm(ai.Now.Add(next)); err != nil {
		return rep, err
	}
	// A kick that came while this alarm ran set an alarm this one's end
	// may drop, but it followed a forwarding: a log that grew since the
	// run began has the alarm come back at once. A kick after this read
	// comes after the alarm set above, which it brings forward.
	g, err = hot.Guards(ctx)
	if err != nil {
		return rep, err
	}
	if g.Head != head {
		rep.Done = false
		return rep, o.alarm(ai.Now.Add(alarmFloor))
	}
	if g.Projected < g.Head-1 {
		// A projection behind holds events back; no kick follows its
		// catch-up, so the alarm looks again soon.
		return rep, o.alarm(ai.Now.Add(archiveBehind))
	}
	return rep, nil
}

// archiverRun is the isolate's archiver, one across the Archiver
// object's alarms: a pass over a large D1 log carries on where the last
// alarm stopped (the archiver's cursor). Its options read the running alarm's host
// and clock; the object runs one alarm at a time, and mu holds it so. A
// new Go runtime starts a new one, which loses nothing.
type archiverRun struct {
	mu  sync.Mutex
	a   *archive.Archiver
	h   *host
	now time.Time
}

// newArchiver is the archiver of st: package archive's steps over D1,
// the bucket and the shell's gzip, each operation through the host of
// the alarm that runs it.
func (c *Core) newArchiver(st *archiverRun) *archive.Archiver {
	opt := archive.Options{Now: func() time.Time { return st.now }}
	opt.Snapshots = func(ctx context.Context, agg, id string) (int64, error) { return c.snapshotsOf(st.h)(ctx, agg, id) }
	opt.Snapshot = func(_ context.Context, agg, id string, upto int64) error {
		return c.snapshotBefore(st.h, agg, id, upto, st.now)
	}
	if point := c.cfg.Env["CUESOURCE_TEST_CRASH"]; point != "" && c.faults != nil {
		// The crash tests stop workerd at a point of the step: the script
		// says it is there, then waits for the end.
		opt.At = func(at string) {
			if at == point {
				_ = st.h.do(Op{Kind: "log", Method: "warn", Arg: "cuesource: archive: test crash point " + at}, nil)
				_ = st.h.do(Op{Kind: "sleep", Arg: 600_000}, nil)
			}
		}
	}
	hot := c.hotOf(nil, time.Time{})
	hot.clock = func() time.Time { return st.now }
	return archive.NewCodec(hot, r2{}, shellGzip{}, c.retention, opt)
}

// storage is GET /admin/storage on the Worker: archive.Status of D1 and
// the bucket.
func (c *Core) storage(h *host, now time.Time) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		var t archive.Target
		if c.cfg.Archive {
			t = r2{h}
		}
		return archive.StatusOf(ctx, c.hotOf(h, now), t, c.retention, c.snapshotsOf(h), now)
	}
}

// served is GET /admin/archive/... on the Worker: D1's index and the
// bucket's objects; nil without a bucket.
func (c *Core) served(h *host, now time.Time) *archive.Served {
	if !c.cfg.Archive {
		return nil
	}
	return &archive.Served{Target: r2{h}, Index: c.hotOf(h, now)}
}

// snapshotBefore is archive.Options.Snapshot on Workers: the instance's
// object keeps its stored state as its snapshot, unless it has one under
// the current definition at upto or later (snapshotNow, in its
// transaction).
func (c *Core) snapshotBefore(h *host, agg, id string, upto int64, now time.Time) error {
	a := c.prog.Aggregates[agg]
	if a == nil {
		return nil
	}
	t := transact{Fn: "snapshotNow", Reads: []Statement{stmt(d1.ObjectInstance), stmt(d1.ObjectSnapshot, a.Hash)},
		Input: map[string]any{"hash": a.Hash, "upto": upto, "time": d1.FormatTime(now)}}
	return h.transact(agg, id, t, nil)
}

type snapshotNowInput struct {
	Hash string            `json:"hash"`
	Upto int64             `json:"upto"`
	Time string            `json:"time"`
	Rows []json.RawMessage `json:"rows"` // the instance, its snapshot under Hash
}

// snapshotNow writes the object's snapshot of its stored state unless it
// has one at the version asked or later.
func (c *Core) snapshotNow(in []byte) (any, error) {
	var si snapshotNowInput
	if err := decodeInput(in, &si); err != nil {
		return nil, err
	}
	if len(si.Rows) != 2 {
		return nil, &Fault{Kind: "input", Message: "snapshotNow: want the instance and its snapshot"}
	}
	inst, err := instanceOf(si.Rows[0])
	if err != nil {
		return nil, err
	}
	var ss []wireSnapshot
	if err := json.Unmarshal(si.Rows[1], &ss); err != nil {
		return nil, err
	}
	if len(ss) > 0 && ss[0].Version >= si.Upto || inst.Version < si.Upto {
		return Transacted{}, nil
	}
	return Transacted{Writes: []Statement{stmt(d1.ObjectPutSnapshot, inst.Version, si.Hash, inst.State, si.Time)}}, nil
}

// snapshotsOf is what the sinceSnapshot rule asks: the version of the
// snapshot an instance's object keeps under its aggregate's current
// definition (one of another cannot start a rehydration), 0 for none.
func (c *Core) snapshotsOf(h *host) archive.Snapshots {
	return func(_ context.Context, agg, id string) (int64, error) {
		a := c.prog.Aggregates[agg]
		if a == nil {
			return 0, nil
		}
		var rows [][]wireSnapshot
		t := transact{Reads: []Statement{stmt(d1.ObjectSnapshot, a.Hash)}}
		if err := h.transact(agg, id, t, &rows); err != nil {
			return 0, err
		}
		if len(rows) != 1 || len(rows[0]) == 0 {
			return 0, nil
		}
		return rows[0][0].Version, nil
	}
}
