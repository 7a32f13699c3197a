package edge

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/internal/effect/rules"
	"github.com/cuesource/cuesource/store/d1"
)

// What an Aggregate Durable Object does after a command's transaction and
// when its alarm fires: forward its events to the log, have the projector
// catch up, deliver the effects its outbox owes, expire idempotency
// records, and choose when the alarm comes back. The object's own storage,
// its alarm and its answer are operations of these scripts ("sql", "tx",
// "alarm", "respond"), so the shell only performs them.

// Timings of the object's work; the deliveries' waits are rules.Backoff's.
const (
	// retryAfterCommit is when the alarm fires if the work after a commit
	// does not finish first (the runtime or the object may go away); each
	// commit sets it anew, so a burst of commands does not wake it.
	retryAfterCommit = 2 * time.Second
	// retryAfterFault is when a delivery that failed in the shell (not by
	// the rules: its outbox row is unchanged) is tried again.
	retryAfterFault = time.Second
	// maxForwardBackoff bounds the wait between failed forwardings: the
	// n-th failure in a row waits rules.Backoff's 1 s doubling up to it.
	maxForwardBackoff = 30 * time.Second
	// alarmFloor keeps an alarm a little in the future.
	alarmFloor = 100 * time.Millisecond
)

// The objects of this isolate that are forwarding, and the outbox rows
// being delivered: concurrent commands on one object share the work, and
// a row is not delivered twice at once. And the unique keys commands are
// reserving, from before they ask a key's object until their instance
// has committed or given up: a claimant that finds one of them recorded
// as the key's holder is refused. Only coordination lives here; a new Go
// runtime starts with none and loses nothing (the scripts that reserved
// ended with the old one and commit nothing).
type objects struct {
	mu         sync.Mutex
	forwarding map[string]*objectLock
	claimed    map[string]bool
	inflight   map[string]int
}

func newObjects() *objects {
	return &objects{forwarding: map[string]*objectLock{}, claimed: map[string]bool{}, inflight: map[string]int{}}
}

// objectLock is an object's forwarding lock and how many hold or wait for
// it: at none it is forgotten.
type objectLock struct {
	sync.Mutex
	n int
}

// lock serialises the forwarding of one object.
func (s *objects) lock(key string) func() {
	s.mu.Lock()
	m := s.forwarding[key]
	if m == nil {
		m = &objectLock{}
		s.forwarding[key] = m
	}
	m.n++
	s.mu.Unlock()
	m.Lock()
	return func() {
		m.Unlock()
		s.mu.Lock()
		if m.n--; m.n == 0 {
			delete(s.forwarding, key)
		}
		s.mu.Unlock()
	}
}

func (s *objects) claim(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed[key] {
		return false
	}
	s.claimed[key] = true
	return true
}

func (s *objects) unclaim(key string) {
	s.mu.Lock()
	delete(s.claimed, key)
	s.mu.Unlock()
}

// object is one run of an object's script.
type object struct {
	c       *Core
	h       *host
	agg, id string
	now     time.Time
	rid     string // the run's id, for the deliveries' ids
	// inAlarm: the run is the object's alarm, which may replace a due
	// alarm (its own) when it sets the next; other runs keep an earlier
	// one, due or not.
	inAlarm bool
	// grew: the run forwarded events, so the log grew (kickArchiver).
	grew bool
}

// kickArchiver has the Archiver object's alarm look at the log soon when
// the run made it grow: at the end of the run, after any answer.
func (o *object) kickArchiver() {
	if !o.grew || !o.c.archiving() {
		return
	}
	if err := o.h.do(Op{Kind: "archiver", Method: "kick"}, nil); err != nil {
		o.log("warn", "archive: kick: "+err.Error())
	}
}

func (o *object) key() string { return o.agg + "/" + o.id }

// sql runs a statement on the object's storage; its rows are objects.
func (o *object) sql(out any, sql string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	return o.h.do(Op{Kind: "sql", Statement: &Statement{SQL: sql, Params: params}}, out)
}

// tx runs statements in one storage transaction.
func (o *object) tx(stmts []Statement) error {
	return o.h.do(Op{Kind: "tx", Statements: stmts}, nil)
}

// alarm has the alarm fire at t at the latest.
func (o *object) alarm(t time.Time) error {
	return setAlarm(o.h, t, o.now, o.inAlarm)
}

// setAlarm has the object's alarm fire at `at` at the latest: it reads
// the alarm set ("getAlarm") and sets it ("alarm") unless keepAlarm.
func setAlarm(h *host, at, now time.Time, replaceDue bool) error {
	var cur *int64
	if err := h.do(Op{Kind: "getAlarm"}, &cur); err != nil {
		return err
	}
	if keepAlarm(cur, at.UnixMilli(), now, replaceDue) {
		return nil
	}
	return h.do(Op{Kind: "alarm", Arg: at.UnixMilli()}, nil)
}

// keepAlarm says whether the alarm set, cur (ms; nil: none), stays when
// one at `at` is asked for: an earlier one does (a delivery's backoff, an
// expiry), so asks coming faster than their delay never put it off;
// unless it is due (at now or before) and replaceDue, as in the alarm's
// own run, whose next time must be set.
func keepAlarm(cur *int64, at int64, now time.Time, replaceDue bool) bool {
	return cur != nil && *cur <= at && !(replaceDue && *cur <= now.UnixMilli())
}

func (o *object) log(level, msg string) {
	_ = o.h.do(Op{Kind: "log", Method: level, Arg: "cuesource: " + msg}, nil)
}

type committedInput struct {
	Aggregate string           `json:"aggregate"`
	ID        string           `json:"id"`
	Now       time.Time        `json:"now"`
	RID       string           `json:"rid"`
	Commit    WireCommit       `json:"commit"`
	Answer    cuesource.Answer `json:"answer"`
}

// committed is the work after a command's transaction (its alarm is set),
// in its order: the forwarding of the new events and the projector's
// catch-up; the sync deliveries; the answer ("respond", when the object
// waits for it: an inline projection or a sync effect is owed; otherwise
// it answered already); then the async and queue deliveries. Failures are
// logged and left to the alarm: the command is committed and answers.
func (c *Core) committed(in []byte, h *host) (any, error) {
	var ci committedInput
	if err := decodeInput(in, &ci); err != nil {
		return nil, err
	}
	o := &object{c: c, h: h, agg: ci.Aggregate, id: ci.ID, now: ci.Now, rid: ci.RID}
	ids := map[string]bool{}
	for _, e := range ci.Commit.Events {
		ids[e.ID] = true
	}
	sync := 0 // the sync deliveries owed
	for _, f := range ci.Commit.Effects {
		if c.delivery(f.Consumer) == "sync" {
			sync++
		}
	}
	resp := ci.Answer
	if err := o.flush(true); err != nil {
		o.log("error", fmt.Sprintf("forwarding %s %s failed, the alarm retries: %v", o.agg, o.id, err))
	}
	if sync > 0 {
		reports := o.runOutbox(func(r outboxRow) bool { return ids[r.EventID] && c.delivery(r.Consumer) == "sync" })
		if body, ok := rules.AppendEffects(resp.Body, reports); ok && len(reports) > 0 {
			resp.Body = body
		}
	}
	if c.waits(ci.Aggregate, &ci.Commit) {
		if err := h.do(Op{Kind: "respond", Arg: resp}, nil); err != nil {
			return nil, err
		}
	}
	if len(ci.Commit.Effects) > sync {
		o.runOutbox(func(r outboxRow) bool { return ids[r.EventID] && c.delivery(r.Consumer) != "sync" })
	}
	o.kickArchiver()
	return resp, nil
}

// waits says whether a command's answer waits for the work after its
// commit: an inline projection handles one of its events, or it owes a
// sync delivery.
func (c *Core) waits(agg string, cm *WireCommit) bool {
	for _, e := range cm.Events {
		if c.inline[agg+"."+e.Type] {
			return true
		}
	}
	for _, f := range cm.Effects {
		if c.delivery(f.Consumer) == "sync" {
			return true
		}
	}
	return false
}

func (c *Core) delivery(effect string) string {
	if e := c.prog.Effects[effect]; e != nil {
		return e.Delivery
	}
	return ""
}

// flush forwards every unforwarded event of the object, oldest first, then
// has the projector catch up: inline projections now, the others soon.
// Without always, the projector is left alone when nothing was forwarded
// (an alarm with nothing left to do).
func (o *object) flush(always bool) error {
	defer o.c.objects.lock(o.key())()
	forwarded := false
	for {
		var evs []wireEvent
		if err := o.sql(&evs, d1.ObjectUnforwarded); err != nil {
			return err
		}
		if len(evs) == 0 {
			break
		}
		for i := range evs {
			evs[i].Aggregate, evs[i].Instance = o.agg, o.id
		}
		pos, err := forwardEvents(o.h, evs)
		if err != nil {
			return err
		}
		stmts := make([]Statement, 0, len(pos))
		for _, e := range evs {
			stmts = append(stmts, Statement{SQL: d1.ObjectSetPosition, Params: []any{pos[e.ID], e.ID}})
		}
		if evs[0].Version == 1 {
			stmts = append(stmts, Statement{SQL: d1.ObjectSetFirst, Params: []any{pos[evs[0].ID]}})
		}
		if err := o.tx(stmts); err != nil {
			return err
		}
		forwarded = true
		if len(evs) < d1.MaxForward {
			break // that was the last run
		}
	}
	if !forwarded && !always {
		return nil
	}
	o.grew = o.grew || forwarded
	async := o.c.async
	switch {
	case len(o.c.inline) > 0:
		// The inline projections now; the catch-up sets the projector's
		// alarm for the others.
		return o.h.do(Op{Kind: "projector", Method: "catchUp", Arg: map[string]bool{"inline": true, "kick": async}}, nil)
	case async:
		return o.h.do(Op{Kind: "projector", Method: "kick"}, nil)
	}
	return nil
}

type outboxRow struct {
	Seq      int64  `json:"seq"`
	EventID  string `json:"event_id"`
	Consumer string `json:"consumer"`
	Attempts int    `json:"attempts"`
}

// runOutbox delivers the due outbox rows that pass filter: sync and async
// ones here, queue ones by sending them to the queue. A delivered, skipped
// or dead-lettered row is deleted; a failed one waits for its backoff and
// the alarm. It answers the reports of the deliveries.
func (o *object) runOutbox(filter func(outboxRow) bool) []rules.Report {
	var due []outboxRow
	if err := o.sql(&due, d1.ObjectOutboxDue, o.now.UnixMilli()); err != nil {
		o.log("error", fmt.Sprintf("effects of %s %s: %v", o.agg, o.id, err))
		_ = o.alarm(o.now.Add(retryAfterFault))
		return nil
	}
	reports := []rules.Report{}
	for _, r := range due {
		key := fmt.Sprintf("%s/%d", o.key(), r.Seq)
		if !filter(r) || !o.c.objects.claim(key) {
			continue
		}
		rep, err := o.deliverRow(r)
		o.c.objects.unclaim(key)
		if err != nil {
			o.log("error", fmt.Sprintf("effect %s for event %s: %v", r.Consumer, r.EventID, err))
			_ = o.alarm(o.now.Add(retryAfterFault))
			continue
		}
		if rep != nil {
			reports = append(reports, *rep)
		}
	}
	return reports
}

func (o *object) deliverRow(r outboxRow) (*rules.Report, error) {
	var evs []wireEvent
	if err := o.sql(&evs, d1.ObjectEventByID, r.EventID); err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, fmt.Errorf("no event %s", r.EventID)
	}
	ev := evs[0]
	ev.Aggregate, ev.Instance = o.agg, o.id
	if o.c.delivery(r.Consumer) == "queue" {
		if err := o.h.do(Op{Kind: "enqueue", Arg: map[string]any{"effect": r.Consumer, "event": ev}}, nil); err != nil {
			return nil, err
		}
		return nil, o.sql(nil, d1.ObjectOutboxRemove, r.Seq)
	}
	d, err := o.c.deliverOnce(o.h, deliverInput{Effect: r.Consumer, Event: ev, Attempts: r.Attempts, Now: o.now, ID: fmt.Sprintf("%s-%d", o.rid, r.Seq)})
	if err != nil {
		return nil, err
	}
	switch d.Kind {
	case "retry":
		due := o.now.Add(time.Duration(d.BackoffMS) * time.Millisecond)
		if err := o.sql(nil, d1.ObjectOutboxRetry, due.UnixMilli(), d.Error, r.Seq); err != nil {
			return nil, err
		}
		if err := o.alarm(maxTime(due, o.now.Add(alarmFloor))); err != nil {
			return nil, err
		}
	case "release":
	default:
		if d.Kind == "dead" {
			o.log("error", fmt.Sprintf("effect %s for event %s gave up: %s", r.Consumer, r.EventID, d.Error))
		}
		if err := o.sql(nil, d1.ObjectOutboxRemove, r.Seq); err != nil {
			return nil, err
		}
	}
	return d.Report, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// open prepares an Aggregate object's storage when it starts
// (idempotently): a unique key's object, when it knows its name, makes
// its one table (it holds no instance); any other the object schema,
// then runs each migration whose check reads no row (storage an older
// schema made).
func (c *Core) open(in []byte, h *host) (any, error) {
	var oi struct {
		Name string `json:"name"` // the object's name; "" when it does not know it
	}
	if err := decodeInput(in, &oi); err != nil {
		return nil, err
	}
	o := &object{h: h}
	if strings.HasPrefix(oi.Name, keyObject("")) {
		return map[string]any{}, o.sql(nil, d1.KeySchema)
	}
	if err := o.sql(nil, d1.ObjectSchema+d1.ObjectSnapshotSchema); err != nil {
		return nil, err
	}
	for _, m := range d1.ObjectMigrations {
		var rows []json.RawMessage
		if err := o.sql(&rows, m.Check); err != nil {
			return nil, err
		}
		if len(rows) == 0 {
			if err := o.sql(nil, m.Apply); err != nil {
				return nil, err
			}
		}
	}
	return map[string]any{}, nil
}

type alarmInput struct {
	Now time.Time `json:"now"`
	RID string    `json:"rid"`
}

// alarm is the object's alarm: the retry of everything after a commit.
// It forwards what is left (a failure waits rules.Backoff for the number
// of failures in a row), delivers what is due, expires idempotency
// records, and sets the alarm for the next due delivery or expiry.
func (c *Core) alarm(in []byte, h *host) (any, error) {
	var ai alarmInput
	if err := decodeInput(in, &ai); err != nil {
		return nil, err
	}
	o := &object{c: c, h: h, now: ai.Now, rid: ai.RID, inAlarm: true}
	var inst []struct {
		Aggregate string `json:"aggregate"`
		ID        string `json:"id"`
	}
	if err := o.sql(&inst, d1.ObjectInstanceKey); err != nil {
		return nil, err
	}
	if len(inst) == 0 {
		return map[string]any{}, nil
	}
	o.agg, o.id = inst[0].Aggregate, inst[0].ID
	if err := o.flush(false); err != nil {
		var f []struct {
			Failures int `json:"failures"`
		}
		if err := o.sql(&f, d1.ObjectForwardingFailures); err != nil {
			return nil, err
		}
		n := 1
		if len(f) > 0 {
			n = f[0].Failures + 1
		}
		if err := o.sql(nil, d1.ObjectForwardingSet, n); err != nil {
			return nil, err
		}
		delay := rules.Backoff(c.prog, "", n, 0, maxForwardBackoff)
		o.log("warn", fmt.Sprintf("forwarding %s %s failed (%d), retry in %v: %v", o.agg, o.id, n, delay, err))
		return map[string]any{}, o.alarm(o.now.Add(delay))
	}
	if err := o.sql(nil, d1.ObjectForwardingClear); err != nil {
		return nil, err
	}
	o.kickArchiver()
	o.runOutbox(func(outboxRow) bool { return true })
	// Idempotency records expire, as natively; the alarm comes back for
	// the oldest one left.
	if err := o.sql(nil, d1.ObjectIdempotencyExpire, d1.FormatTime(o.now.Add(-c.ttl))); err != nil {
		return nil, err
	}
	var oldest []struct {
		T *string `json:"t"`
	}
	if err := o.sql(&oldest, d1.ObjectIdempotencyOldest); err != nil {
		return nil, err
	}
	var next []struct {
		Due *int64 `json:"due"`
	}
	if err := o.sql(&next, d1.ObjectOutboxNextDue); err != nil {
		return nil, err
	}
	var at time.Time
	if len(next) > 0 && next[0].Due != nil {
		at = time.UnixMilli(*next[0].Due)
	}
	if len(oldest) > 0 && oldest[0].T != nil {
		t, err := d1.Time(*oldest[0].T)
		if err != nil {
			return nil, err
		}
		if exp := t.Add(c.ttl + time.Millisecond); at.IsZero() || exp.Before(at) {
			at = exp
		}
	}
	if !at.IsZero() {
		return map[string]any{}, o.alarm(maxTime(at, o.now.Add(alarmFloor)))
	}
	return map[string]any{}, nil
}
