//go:build unix

package native_e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cuesource/cuesource/e2e/e2etest"
)

const (
	loadWorkers = 16
	loadCarts   = 50
	orderTotal  = 100
	payAmount   = 25 // four payments pay an order
)

type outcome int

const (
	acked    outcome = iota + 1 // a complete 2xx answer
	rejected                    // a complete non-2xx answer
	unknown                     // no complete answer: the server died
)

// command is one request the load sent and what came of it.
type command struct {
	seq          int
	agg, id, cmd string
	key          string
	body         []byte
	outcome      outcome
	reply        reply
	err          error
	dec          decision // acked only
}

func (c *command) path() string { return instancePath(c.agg, c.id) + "/" + c.cmd }

func (c *command) String() string {
	return fmt.Sprintf("#%d %s %s %s %s (key %s)", c.seq, c.agg, c.id, c.cmd, c.body, c.key)
}

// firstEvent is the event every command of the load emits first: its
// payload is the command's payload.
var firstEvent = map[string]string{
	"Open": "CartOpened", "AddItem": "ItemAdded", "Place": "OrderPlaced", "Pay": "PaymentReceived",
}

func cartID(i int) string { return fmt.Sprintf("cart-%02d", i) }

// load sends commands from several goroutines and records every outcome.
type load struct {
	e     *e2etest.Errs
	c     *client
	seq   atomic.Int64
	acks  atomic.Int64
	mu    sync.Mutex
	cmds  []*command
	stop  chan struct{}
	once  sync.Once
	fails atomic.Int64 // 5xx answers
}

func (l *load) send(agg, id, name string, body []byte) *command {
	seq := int(l.seq.Add(1))
	c := &command{seq: seq, agg: agg, id: id, cmd: name, key: fmt.Sprintf("load-%06d", seq), body: body}
	c.reply, c.err = l.c.Post(c.path(), c.key, body)
	switch {
	case c.err != nil:
		c.outcome = unknown
	case c.reply.Status >= 200 && c.reply.Status < 300:
		c.outcome = acked
		if err := json.Unmarshal(c.reply.Body, &c.dec); err != nil {
			l.e.Errorf("%v: 2xx answer is not a decision: %v: %s", c, err, c.reply.Body)
		}
		l.acks.Add(1)
	default:
		c.outcome = rejected
		if c.reply.Status >= 500 {
			l.fails.Add(1)
		}
	}
	l.mu.Lock()
	l.cmds = append(l.cmds, c)
	l.mu.Unlock()
	return c
}

// halt asks the workers to stop.
func (l *load) halt() { l.once.Do(func() { close(l.stop) }) }

// worker opens its share of the carts, then adds items to any cart and
// places and pays its own orders until it gets no answer (the server is
// gone) or the load is stopped.
func (l *load) worker(g int) {
	rng := rand.New(rand.NewPCG(uint64(g), 0x5eed))
	for i := g; i < loadCarts; i += loadWorkers {
		if l.send("cart", cartID(i), "Open", fmt.Appendf(nil, `{"customer":"cust-%02d"}`, i)).outcome == unknown {
			return
		}
	}
	order, step := 0, 0
	for {
		select {
		case <-l.stop:
			return
		default:
		}
		var c *command
		if rng.IntN(100) < 15 {
			id := fmt.Sprintf("order-%02d-%03d", g, order)
			if step == 0 {
				c = l.send("order", id, "Place", fmt.Appendf(nil, `{"cart":%q,"total":%d}`, cartID(rng.IntN(loadCarts)), orderTotal))
			} else {
				c = l.send("order", id, "Pay", fmt.Appendf(nil, `{"amount":%d}`, payAmount))
			}
			if step++; step == 1+orderTotal/payAmount {
				order, step = order+1, 0
			}
		} else {
			// A fixed price per sku: the cart refuses a price change.
			sku := rng.IntN(10)
			c = l.send("cart", cartID(rng.IntN(loadCarts)), "AddItem",
				fmt.Appendf(nil, `{"sku":"SKU-%02d","qty":%d,"price":%g}`, sku, 1+rng.IntN(5), float64(sku+1)*1.25))
		}
		if c.outcome == unknown {
			return
		}
	}
}

// TestKillRestart kills the server with SIGKILL under load and restarts it
// on the same data: every acknowledged command's events are there, no event
// exists without its state update, and idempotency still holds, for
// acknowledged commands and for those whose outcome the client never saw.
func TestKillRestart(t *testing.T) {
	skipShort(t)
	shop := contextPath("contexts/example.cue")
	data := t.TempDir()
	srv := startServer(t, shop, data) // --sync full, the default

	e := e2etest.NewErrs(t)
	l := &load{e: e, c: newClient(srv.url), stop: make(chan struct{})}
	var wg sync.WaitGroup
	start := time.Now()
	for g := range loadWorkers {
		wg.Add(1)
		go func() { defer wg.Done(); l.worker(g) }()
	}
	// Kill once the load has run a second (ten under make soak) and been
	// acknowledged a few hundred times, so the kill lands mid-stream; never
	// wait more than 10s more.
	run := time.Second
	if e2etest.Soak() {
		run = 10 * time.Second
	}
	e2etest.Until(run+10*time.Second, 10*time.Millisecond, func() bool {
		return time.Since(start) >= run && l.acks.Load() >= 300
	})
	srv.kill()
	killedAt := time.Since(start)
	l.halt()
	if !waitGroup(&wg, 30*time.Second) {
		t.Fatal("load workers did not stop within 30s of the kill")
	}
	l.c.Close()

	byOutcome := map[outcome][]*command{}
	sort.Slice(l.cmds, func(i, j int) bool { return l.cmds[i].seq < l.cmds[j].seq })
	for _, c := range l.cmds {
		byOutcome[c.outcome] = append(byOutcome[c.outcome], c)
	}
	t.Logf("load: %d commands in %v before SIGKILL: %d acknowledged, %d rejected, %d without an answer",
		len(l.cmds), killedAt.Round(time.Millisecond), len(byOutcome[acked]), len(byOutcome[rejected]), len(byOutcome[unknown]))
	if len(byOutcome[acked]) == 0 {
		t.Fatal("no command was acknowledged before the kill")
	}
	if n := l.fails.Load(); n > 0 {
		e.Errorf("the server answered %d commands with a 5xx under load", n)
	}
	for _, c := range byOutcome[rejected] {
		// The only rejection the load can meet: an item for a cart whose
		// Open another worker has not had acknowledged yet.
		if !(c.cmd == "AddItem" && c.reply.Status == http.StatusNotFound && bytes.Contains(c.reply.Body, []byte("instance_missing"))) {
			e.Errorf("unexpected rejection of %v: %d %s", c, c.reply.Status, c.reply.Body)
		}
	}

	// Restart on the same data directory.
	restart := time.Now()
	srv = startServer(t, shop, data)
	t.Logf("restarted in %v", time.Since(restart).Round(time.Millisecond))
	c := newClient(srv.url)
	defer c.Close()

	instances := map[[2]string]bool{}
	for _, cmd := range l.cmds {
		instances[[2]string{cmd.agg, cmd.id}] = true
	}
	before := checkStore(e, c, instances)
	byID := map[string]logEvent{}
	byCommand := map[string][]logEvent{}
	for _, ev := range before {
		byID[ev.ID] = ev
		byCommand[ev.CommandID] = append(byCommand[ev.CommandID], ev)
	}

	// Every acknowledged command's events are in the log as answered.
	ackedCommands := map[string]*command{}
	for _, cmd := range byOutcome[acked] {
		cid, ok := checkAnswered(e, cmd, cmd.dec, byID)
		if !ok {
			continue
		}
		if other := ackedCommands[cid]; other != nil {
			e.Errorf("%v and %v were answered with the same command id %s", other, cmd, cid)
		}
		ackedCommands[cid] = cmd
		if n := len(byCommand[cid]); n != len(cmd.dec.Events) {
			e.Errorf("%v: answered %d events, the log has %d of its command", cmd, len(cmd.dec.Events), n)
		}
	}
	orphans := map[string]bool{} // committed, never acknowledged
	for cid := range byCommand {
		if ackedCommands[cid] == nil {
			orphans[cid] = true
		}
	}
	t.Logf("after restart: %d events in the log, %d commands committed without an acknowledgement", len(before), len(orphans))
	if len(orphans) > len(byOutcome[unknown]) {
		e.Errorf("%d commands in the log were never acknowledged, but only %d had no answer", len(orphans), len(byOutcome[unknown]))
	}

	// Re-sending acknowledged commands replays their answers and appends
	// nothing.
	resendStart := time.Now()
	resendAcked(e, c, byOutcome[acked])
	after := c.readLog(t)
	if len(after) != len(before) {
		e.Errorf("re-sending acknowledged commands changed the log: %d events, was %d", len(after), len(before))
	}
	t.Logf("re-sent %d acknowledged commands in %v", len(byOutcome[acked]), time.Since(resendStart).Round(time.Millisecond))

	// Re-sending commands without an answer replays those that committed
	// and executes the others once.
	claimed := map[string]*command{}
	type answer struct {
		cmd *command
		dec decision
	}
	var fresh []answer
	var replays, executed, refused int
	for _, cmd := range byOutcome[unknown] {
		r, err := c.Post(cmd.path(), cmd.key, cmd.body)
		if err != nil {
			e.Errorf("re-sending %v: %v", cmd, err)
			continue
		}
		replayed := r.Header.Get("Idempotent-Replayed") == "true"
		if r.Status < 200 || r.Status >= 300 {
			refused++
			if replayed {
				e.Errorf("re-sending %v: a replayed rejection %d %s", cmd, r.Status, r.Body)
			}
			continue
		}
		var dec decision
		if err := json.Unmarshal(r.Body, &dec); err != nil || len(dec.Events) == 0 {
			e.Errorf("re-sending %v: %d %s: not a decision with events (%v)", cmd, r.Status, r.Body, err)
			continue
		}
		if replayed {
			replays++
			cid, ok := checkAnswered(e, cmd, dec, byID)
			if !ok {
				continue
			}
			switch {
			case ackedCommands[cid] != nil:
				e.Errorf("re-sending %v replayed the answer of acknowledged %v", cmd, ackedCommands[cid])
			case claimed[cid] != nil:
				e.Errorf("re-sending %v replayed the answer of %v", cmd, claimed[cid])
			default:
				claimed[cid] = cmd
			}
			continue
		}
		executed++
		for _, ev := range dec.Events {
			if _, ok := byID[ev.ID]; ok {
				e.Errorf("re-sending %v executed it again with event id %s already in the log", cmd, ev.ID)
			}
		}
		fresh = append(fresh, answer{cmd, dec})
	}
	t.Logf("re-sent %d commands that had no answer: %d replayed, %d executed now, %d rejected",
		len(byOutcome[unknown]), replays, executed, refused)
	for cid := range orphans {
		if claimed[cid] == nil {
			evs := byCommand[cid]
			var same []string
			for _, cmd := range byOutcome[unknown] {
				if cmd.agg == evs[0].Aggregate && cmd.id == evs[0].Instance && firstEvent[cmd.cmd] == evs[0].Type && e2etest.SameJSON(cmd.body, evs[0].Payload) {
					same = append(same, cmd.String())
				}
			}
			e.Errorf("command %s committed %s %s v%d %s %s before the kill, but no re-sent command replayed it (executed twice, or an event without its idempotency record); unanswered commands that emit it: %v",
				cid, evs[0].Aggregate, evs[0].Instance, evs[0].Version, evs[0].Type, evs[0].Payload, same)
		}
	}

	// The log is still whole, and holds exactly the answered commands.
	final := checkStore(e, c, instances)
	answered := map[string]bool{}
	for cid := range ackedCommands {
		answered[cid] = true
	}
	for cid := range claimed {
		answered[cid] = true
	}
	finalByID := map[string]logEvent{}
	for _, ev := range final {
		finalByID[ev.ID] = ev
	}
	for _, a := range fresh {
		if cid, ok := checkAnswered(e, a.cmd, a.dec, finalByID); ok {
			answered[cid] = true
		}
	}
	for _, ev := range final {
		if !answered[ev.CommandID] {
			e.Errorf("event %s (%s %s v%d %s) belongs to no answered command", ev.ID, ev.Aggregate, ev.Instance, ev.Version, ev.Type)
		}
	}
	// Every projection converges on the whole log after the kill.
	c.WaitRows(t, "projections after the kill", int64(len(final)), nil)
}

// checkAnswered checks that the events of a 2xx answer to cmd are in the
// log as answered and returns their command id.
func checkAnswered(e *e2etest.Errs, cmd *command, dec decision, byID map[string]logEvent) (string, bool) {
	t := e.T()
	t.Helper()
	if len(dec.Events) == 0 {
		e.Errorf("%v: answered without events: %s", cmd, cmd.reply.Body)
		return "", false
	}
	if want := firstEvent[cmd.cmd]; dec.Events[0].Type != want || !e2etest.SameJSON(dec.Events[0].Payload, cmd.body) {
		e.Errorf("%v: answered %s %s first, want %s %s", cmd, dec.Events[0].Type, dec.Events[0].Payload, want, cmd.body)
	}
	if last := dec.Events[len(dec.Events)-1].Version; dec.Version != last {
		e.Errorf("%v: answered version %d, its last event has version %d", cmd, dec.Version, last)
	}
	var cid string
	for i, a := range dec.Events {
		ev, ok := byID[a.ID]
		if !ok {
			e.Errorf("%v: answered event %s (v%d %s) is not in the log", cmd, a.ID, a.Version, a.Type)
			return "", false
		}
		if ev.Aggregate != cmd.agg || ev.Instance != cmd.id || ev.Version != a.Version || ev.Type != a.Type ||
			!ev.Time.Equal(a.Time) || !e2etest.SameJSON(ev.Payload, a.Payload) {
			e.Errorf("%v: answered event %s %s v%d %s %s, the log has %s %s v%d %s %s", cmd,
				a.ID, cmd.id, a.Version, a.Type, a.Payload, ev.Aggregate, ev.Instance, ev.Version, ev.Type, ev.Payload)
		}
		if i == 0 {
			cid = ev.CommandID
		} else if ev.CommandID != cid {
			e.Errorf("%v: its events have command ids %s and %s", cmd, cid, ev.CommandID)
		}
	}
	return cid, true
}

// resendAcked re-sends acknowledged commands with their keys and bodies:
// each must replay its first answer byte for byte.
func resendAcked(e *e2etest.Errs, c *client, cmds []*command) {
	t := e.T()
	t.Helper()
	work := make(chan *command)
	var bad atomic.Int64
	var wg sync.WaitGroup
	for range loadWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for cmd := range work {
				r, err := c.Post(cmd.path(), cmd.key, cmd.body)
				var problem string
				switch {
				case err != nil:
					problem = err.Error()
				case r.Status != cmd.reply.Status:
					problem = fmt.Sprintf("status %d, first answer %d: %s", r.Status, cmd.reply.Status, r.Body)
				case r.Header.Get("Idempotent-Replayed") != "true":
					problem = fmt.Sprintf("no Idempotent-Replayed: true header (headers %v)", r.Header)
				case !bytes.Equal(r.Body, cmd.reply.Body):
					problem = fmt.Sprintf("body %s, first answer %s", r.Body, cmd.reply.Body)
				}
				if problem != "" && bad.Add(1) <= 10 {
					e.Errorf("re-sending acknowledged %v: %s", cmd, problem)
				}
			}
		}()
	}
	for _, cmd := range cmds {
		work <- cmd
	}
	close(work)
	wg.Wait()
	if n := bad.Load(); n > 10 {
		e.Errorf("... %d acknowledged commands in all did not replay", n)
	}
}

// checkStore checks the whole store through the API and returns the log:
// positions 1..N without gaps, per-instance versions 1..n in log order,
// each instance's events equal to its share of the log, and every
// instance's state at its last event's version and equal to the fold of
// its events. instances are those the test wrote to; the log must hold no
// others.
func checkStore(e *e2etest.Errs, c *client, instances map[[2]string]bool) []logEvent {
	t := e.T()
	t.Helper()
	all := c.readLog(t)
	seen := map[string]bool{}
	per := map[[2]string][]logEvent{}
	for i, ev := range all {
		if ev.Position != int64(i+1) {
			t.Fatalf("the log has position %d at index %d: positions are not 1..N without gaps", ev.Position, i)
		}
		if seen[ev.ID] {
			e.Errorf("event id %s is twice in the log", ev.ID)
		}
		seen[ev.ID] = true
		k := [2]string{ev.Aggregate, ev.Instance}
		if !instances[k] {
			e.Errorf("the log has event %s of %s %s, an instance the test never wrote to", ev.ID, ev.Aggregate, ev.Instance)
		}
		if want := int64(len(per[k]) + 1); ev.Version != want {
			e.Errorf("%s %s: event at position %d has version %d, want %d (versions 1..n in log order)", ev.Aggregate, ev.Instance, ev.Position, ev.Version, want)
		}
		per[k] = append(per[k], ev)
	}
	keys := make([][2]string, 0, len(instances))
	for k := range instances {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+"/"+a[1], b[0]+"/"+b[1]) })
	for _, k := range keys {
		agg, id := k[0], k[1]
		want := per[k]
		got := c.instanceEvents(t, agg, id)
		if len(got) != len(want) {
			e.Errorf("%s %s: GET events has %d events, the global log %d", agg, id, len(got), len(want))
		} else {
			for i := range got {
				g, w := got[i], want[i]
				if g.ID != w.ID || g.Position != w.Position || g.Version != w.Version || g.Type != w.Type || !e2etest.SameJSON(g.Payload, w.Payload) {
					e.Errorf("%s %s: event %d is %+v in GET events, %+v in the global log", agg, id, i, g, w)
				}
			}
		}
		last := int64(0)
		if len(want) > 0 {
			last = want[len(want)-1].Version
		}
		if v := c.instanceVersion(t, agg, id); v != last {
			e.Errorf("%s %s: state at version %d, its last event has version %d (an event without its state update, or a state without its event)", agg, id, v, last)
		}
		if last == 0 {
			continue
		}
		drifted, replayErr, v := c.rehydrate(t, agg, id)
		if drifted || replayErr != "" || v != last {
			e.Errorf("%s %s: rehydrate says drifted %v, error %q, version %d (want false, none, %d)", agg, id, drifted, replayErr, v, last)
		}
	}
	return all
}

func waitGroup(wg *sync.WaitGroup, timeout time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		return false
	}
}
