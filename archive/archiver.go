package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
)

// Hot is what the archiver needs of the hot store.
type Hot interface {
	Index
	// Guards returns the guards (Archived is the index's last position).
	Guards(ctx context.Context) (retention.Guards, error)
	// HotBytes returns the hot log's size as the byte budget counts it:
	// a counter the store keeps with every write to the log, read in
	// O(1), so the archiver reads it at every step.
	HotBytes(ctx context.Context) (int64, error)
	// Window returns up to n hot events with positions above after, in
	// position order, as the retention decision sees them.
	Window(ctx context.Context, after int64, n int) ([]retention.Candidate, error)
	// Hot returns up to n events of the hot store above after, in
	// position order (none from the archive), ending the page as
	// store.Page does: a segment is never more than a page.
	Hot(ctx context.Context, after int64, n int) ([]store.Event, error)
	// AddSegment records a segment written to the target; recording one
	// already recorded (same range and checksum) does nothing.
	AddSegment(ctx context.Context, s Segment) error
	// Totals sums the index and reads its newest n entries, in position
	// order (IndexTotals, IndexNewest): a status never reads the whole
	// index.
	Totals(ctx context.Context, n int) (Totals, error)
	// Prune deletes the events at positions, in one transaction with the
	// index's hot counts, skipping any that the guards (read again inside
	// the transaction) no longer let go. It returns how many it deleted.
	Prune(ctx context.Context, positions []int64) (int, error)
}

// Options bound one step.
type Options struct {
	// Window is how many hot events one step looks at; zero: 1000.
	Window int
	// SegmentEvents bounds a segment's events; zero: 2000 (decoding one
	// costs a reader ~10 ms on its first page there). Its bytes are
	// bounded by the hot store, which hands a segment's events as one page
	// (store.PageBytes of payloads).
	SegmentEvents int
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Snapshots tells the version of an instance's newest usable
	// snapshot, for the sinceSnapshot rule; nil: none is known, and that
	// rule keeps every event.
	Snapshots Snapshots
	// Snapshot, when set, is called before each prune once for each
	// instance whose events leave, with the version of the last of them:
	// it makes sure the instance has a snapshot its current definition
	// can use at that version or later (see [SnapshotBefore]), so that
	// rehydration starts after what left the hot store, not in the
	// archive. An error stops the step before anything is pruned.
	Snapshot func(ctx context.Context, aggregate, id string, upto int64) error
	// At, when set, is called at the step's crash points: "written" (a
	// segment is in the target, not yet in the index) and "indexed" (in
	// the index, nothing pruned yet). The crash tests stop the process
	// there.
	At func(point string)
}

// Snapshots returns the version of the newest snapshot of an instance
// that its current definition can use; 0: none.
type Snapshots func(ctx context.Context, aggregate, id string) (int64, error)

// fillSnapshots sets the Snapshot of each candidate whose aggregate's
// policy keeps since a snapshot, asking once per instance.
func fillSnapshots(ctx context.Context, ps retention.Policies, snap Snapshots, window []retention.Candidate) error {
	if snap == nil {
		return nil
	}
	seen := map[[2]string]int64{}
	for i := range window {
		c := &window[i]
		if !ps.For(c.Aggregate).SinceSnapshot {
			continue
		}
		k := [2]string{c.Aggregate, c.Instance}
		v, ok := seen[k]
		if !ok {
			var err error
			if v, err = snap(ctx, c.Aggregate, c.Instance); err != nil {
				return err
			}
			seen[k] = v
		}
		c.Snapshot = v
	}
	return nil
}

// Archiver archives and prunes one context's hot store by its policies.
// One step at a time; not safe for concurrent Steps.
type Archiver struct {
	hot    Hot
	target Target
	codec  Codec
	ps     retention.Policies
	opt    Options
	cursor int64 // the window starts after it; back to 0 at the end
	worked bool  // a step of this pass archived or pruned
}

// NewCodec returns an archiver that compresses its segments with codec.
func NewCodec(hot Hot, target Target, codec Codec, ps retention.Policies, opt Options) *Archiver {
	if opt.Window <= 0 {
		opt.Window = 1000
	}
	if opt.SegmentEvents <= 0 {
		opt.SegmentEvents = 2000
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Archiver{hot: hot, target: target, codec: codec, ps: ps, opt: opt}
}

// Report is what steps did.
type Report struct {
	Archived int64 // events written to new segments
	Segments int   // segments written
	Pruned   int64 // events deleted from the hot store
}

func (r *Report) add(o Report) {
	r.Archived += o.Archived
	r.Segments += o.Segments
	r.Pruned += o.Pruned
}

// Step does one bounded step: look at a window of the hot log, archive
// what the policies let go (one segment at most), prune what is archived.
// done reports that a pass over the whole hot log found nothing more.
func (a *Archiver) Step(ctx context.Context) (rep Report, done bool, err error) {
	if !a.ps.Active() {
		return rep, true, nil
	}
	g, err := a.hot.Guards(ctx)
	if err != nil {
		return rep, false, err
	}
	// The size as it is now, with what was written since the last step:
	// the budget holds to within one step's writes.
	var hotBytes int64
	ps := a.ps
	if ps.HotBytes > 0 {
		if hotBytes, ps, _, err = sized(ctx, a.hot, ps); err != nil {
			return rep, false, err
		}
	}
	window, err := a.hot.Window(ctx, a.cursor, a.opt.Window)
	if err != nil {
		return rep, false, err
	}
	wrapped := len(window) < a.opt.Window
	if err := fillSnapshots(ctx, ps, a.opt.Snapshots, window); err != nil {
		return rep, false, err
	}
	now := a.opt.Now()
	more := false // the window wants more archived than one segment holds
	if d := retention.Decide(ps, g, hotBytes, now, window, true); d.Wanted > g.Archived {
		// Archive ahead of what must leave now, up to a whole segment:
		// fewer, larger segments, and the next steps prune without
		// writing. An archived event may stay hot; both copies are the
		// same bytes.
		upto := max(d.Wanted, min(g.Projected, g.Head-1))
		n, err := a.archive(ctx, g.Archived, upto)
		if err != nil {
			return rep, false, err
		}
		rep.Archived, rep.Segments = n, 1
		if g, err = a.hot.Guards(ctx); err != nil {
			return rep, false, err
		}
		more = g.Archived < d.Wanted
	}
	d := retention.Decide(ps, g, hotBytes, now, window, false)
	if len(d.Leave) > 0 {
		if err := a.snapshotBefore(ctx, window, d.Leave); err != nil {
			return rep, false, err
		}
		pos := make([]int64, len(d.Leave))
		for i, l := range d.Leave {
			pos[i] = l.Position
		}
		n, err := a.hot.Prune(ctx, pos)
		if err != nil {
			return rep, false, err
		}
		rep.Pruned = int64(n)
	}
	// A pass is done when it wrapped with nothing archived or pruned in
	// any of its steps, not only its last.
	a.worked = a.worked || rep.Archived > 0 || rep.Pruned > 0
	switch {
	case more:
		// The next step reads this window again (less what left): it
		// archives the next segment of what this one wants to leave, and
		// the cursor never passes hot events the policies let go.
		return rep, false, nil
	case wrapped:
		a.cursor = 0
		done = !a.worked
		a.worked = false
		return rep, done, nil
	}
	a.cursor = window[len(window)-1].Position
	return rep, false, nil
}

// snapshotBefore has each instance whose events leave snapshotted at the
// version of its last one leaving or later (Options.Snapshot).
func (a *Archiver) snapshotBefore(ctx context.Context, window []retention.Candidate, leave []retention.Leave) error {
	if a.opt.Snapshot == nil {
		return nil
	}
	at := make(map[int64]*retention.Candidate, len(window))
	for i := range window {
		at[window[i].Position] = &window[i]
	}
	upto := map[[2]string]int64{}
	var order [][2]string
	for _, l := range leave {
		c := at[l.Position]
		k := [2]string{c.Aggregate, c.Instance}
		if _, ok := upto[k]; !ok {
			order = append(order, k)
		}
		upto[k] = max(upto[k], c.Version)
	}
	for _, k := range order {
		if err := a.opt.Snapshot(ctx, k[0], k[1], upto[k]); err != nil {
			return fmt.Errorf("archive: snapshot of %s %s before its events leave: %w", k[0], k[1], err)
		}
	}
	return nil
}

// SnapshotStore is a hot store that keeps snapshots.
type SnapshotStore interface {
	Load(ctx context.Context, aggregate, id string) (store.Instance, error)
	store.Snapshots
}

// SnapshotBefore is Options.Snapshot over a store that keeps snapshots:
// unless the instance has one under its definition's hash (hash gives
// it; "" for an aggregate the context no longer defines, which is
// skipped) at upto or later, its stored state is kept as a snapshot at
// its version.
func SnapshotBefore(st SnapshotStore, hash func(aggregate string) string, now func() time.Time) func(ctx context.Context, aggregate, id string, upto int64) error {
	return func(ctx context.Context, aggregate, id string, upto int64) error {
		h := hash(aggregate)
		if h == "" {
			return nil
		}
		s, ok, err := st.Snapshot(ctx, aggregate, id, h)
		if err != nil || ok && s.Version >= upto {
			return err
		}
		cur, err := st.Load(ctx, aggregate, id)
		if err != nil || cur.Version < upto || cur.State == nil {
			return err
		}
		return st.SaveSnapshot(ctx, store.Snapshot{Aggregate: aggregate, Instance: id, Version: cur.Version, State: cur.State, Hash: h, Time: now()})
	}
}

// archive writes the segment of the hot events after `after` up to
// `upto` (bounded by SegmentEvents), then records it in the index.
func (a *Archiver) archive(ctx context.Context, after, upto int64) (int64, error) {
	n := min(upto-after, int64(a.opt.SegmentEvents))
	evs, err := a.hot.Hot(ctx, after, int(n))
	if err != nil {
		return 0, err
	}
	// Nothing above the archive has left the hot store, so these are
	// contiguous from after+1; anything else is a broken invariant.
	if len(evs) == 0 || evs[0].Position != after+1 {
		return 0, fmt.Errorf("archive: the hot store does not hold position %d, the next to archive", after+1)
	}
	data, seg, err := encodeWith(ctx, a.codec, evs)
	if err != nil {
		return 0, err
	}
	if err := a.target.Put(ctx, seg.Name, data); err != nil {
		return 0, err
	}
	a.at("written")
	if err := a.hot.AddSegment(ctx, seg); err != nil {
		return 0, err
	}
	a.at("indexed")
	return seg.Count, nil
}

func (a *Archiver) at(point string) {
	if a.opt.At != nil {
		a.opt.At(point)
	}
}

// Run steps until a whole pass finds nothing to do, or ctx ends.
func (a *Archiver) Run(ctx context.Context) (Report, error) { return a.run(ctx, 0) }

// run is Run bounded to limit steps (0: none); the next run carries on
// where it stopped.
func (a *Archiver) run(ctx context.Context, limit int) (Report, error) {
	var total Report
	for n := 1; ; n++ {
		rep, done, err := a.Step(ctx)
		total.add(rep)
		if err != nil || done || n == limit {
			return total, err
		}
	}
}

// DefaultEvery is the interval between passes unless the operator says
// otherwise (serve --archive-every; on Workers CUESOURCE_ARCHIVE_EVERY,
// the Archiver object's alarm while a keepFor rule lets events leave as
// time goes by).
const DefaultEvery = 10 * time.Second

// LoopSteps bounds the steps of one of Loop's passes: over a large hot
// log a pass covers LoopSteps windows, and the next carries on from
// there, so each interval costs at most that many steps.
const LoopSteps = 100

// Loop runs passes every interval until ctx ends, reporting each error
// to fail (and carrying on).
func (a *Archiver) Loop(ctx context.Context, every time.Duration, fail func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := a.run(ctx, LoopSteps); err != nil && ctx.Err() == nil && fail != nil {
			fail(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Plan is what the policies would let go now, for GET /admin/storage.
type Plan struct {
	Policy   string `json:"policy"`
	Events   int    `json:"events"`
	Bytes    int64  `json:"bytes"`
	From     int64  `json:"from,omitempty"`
	To       int64  `json:"to,omitempty"`
	Archived bool   `json:"archived"` // all of them archived already
}

// Next reports, per policy, what the first window of the hot log would
// let go (archive guard aside), without changing anything, given the
// guards and the hot log's size its caller read.
func Next(ctx context.Context, hot Hot, g retention.Guards, hotBytes int64, ps retention.Policies, snap Snapshots, window int, now time.Time) ([]Plan, error) {
	w, err := hot.Window(ctx, 0, window)
	if err != nil {
		return nil, err
	}
	if err := fillSnapshots(ctx, ps, snap, w); err != nil {
		return nil, err
	}
	d := retention.Decide(ps, g, hotBytes, now, w, true)
	bytes := map[int64]int64{}
	for _, c := range w {
		bytes[c.Position] = c.Bytes
	}
	var out []Plan
	at := map[retention.Reason]int{}
	for _, l := range d.Leave {
		i, ok := at[l.Reason]
		if !ok {
			i = len(out)
			at[l.Reason] = i
			out = append(out, Plan{Policy: string(l.Reason), From: l.Position, Archived: true})
		}
		p := &out[i]
		p.Events++
		p.Bytes += bytes[l.Position]
		p.To = l.Position
		p.Archived = p.Archived && l.Position <= g.Archived
	}
	return out, nil
}

// encodeWith makes the segment of evs (contiguous, in position order),
// compressed by codec and sealed.
func encodeWith(ctx context.Context, codec Codec, evs []store.Event) ([]byte, Segment, error) {
	lines, seg, err := Lines(evs)
	if err != nil {
		return nil, Segment{}, err
	}
	data, err := codec.Compress(ctx, lines)
	if err != nil {
		return nil, Segment{}, err
	}
	seg.Seal(data)
	return data, seg, nil
}
