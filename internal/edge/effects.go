package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/internal/effect/rules"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// Effects on Workers: the object that committed an event delivers its
// sync and async effects (from its outbox, retried by its alarm), and
// sends queue effects to a Cloudflare Queue whose consumer delivers them.
// Each delivery is the deliver script: the rules of package effect/rules,
// the same as natively, with the object calls and fetches done by the
// shell.

type deliverInput struct {
	Effect   string    `json:"effect"`
	Event    wireEvent `json:"event"`
	Attempts int       `json:"attempts"` // failed attempts before this one
	Now      time.Time `json:"now"`
	ID       string    `json:"id"`
}

// Delivered is the answer of the deliver script.
type Delivered struct {
	Kind      string        `json:"kind"`            // done, skip, retry, dead, release
	Error     string        `json:"error,omitempty"` // for the log and the outbox (Outcome.Logged); Report has what the caller may read
	Note      string        `json:"note,omitempty"`
	BackoffMS int64         `json:"backoffMs,omitempty"` // retry: wait this long
	Report    *rules.Report `json:"report,omitempty"`    // for a sync delivery's response
}

func wireToEvent(w wireEvent) (store.Event, error) {
	evs, err := eventsOf([]wireEvent{w}, w.Aggregate, w.Instance)
	if err != nil {
		return store.Event{}, err
	}
	return evs[0], nil
}

// deliverOnce is one delivery by the rules, the dead letter written when
// it gives up.
func (c *Core) deliverOnce(h *host, di deliverInput) (Delivered, error) {
	ids := 0
	// A Worker cannot resolve names before its fetch: the rules judge
	// them by their spelling (ByName), and the shell's fetch follows no
	// redirect.
	d := &rules.Deliverer{Prog: c.prog, Vars: c.vars, Egress: c.egress, ByName: true, Now: func() time.Time { return di.Now }, NewID: func() string {
		ids++
		return di.ID + "-" + strconv.Itoa(ids)
	}}
	ev, err := wireToEvent(di.Event)
	if err != nil {
		return Delivered{}, err
	}
	out := d.Deliver(context.Background(), di.Effect, ev, &doer{h: h})
	out = rules.Settle(c.prog, di.Effect, di.Attempts, out)
	res := Delivered{Kind: out.Kind.String(), Error: out.Logged(), Note: out.Note}
	if out.Kind == rules.Retry {
		res.BackoffMS = rules.Backoff(c.prog, di.Effect, di.Attempts+1, out.RetryAfter, rules.DefaultMaxBackoff).Milliseconds()
	}
	if rep, ok := rules.ReportOf(di.Effect, ev.ID, out); ok {
		res.Report = &rep
	}
	if out.Kind == rules.Dead {
		if err := c.writeDeadLetter(h, di.Effect, di.Event, di.Attempts+1, out.Logged(), out.Rejection, di.Now); err != nil {
			return Delivered{}, err
		}
	}
	return res, nil
}

func (c *Core) writeDeadLetter(h *host, effect string, ev wireEvent, attempts int, msg string, rejection json.RawMessage, now time.Time) error {
	var rej any
	if len(rejection) > 0 {
		rej = string(rejection)
	}
	evJSON, _ := json.Marshal(ev)
	return h.do(Op{Kind: "batch", Statements: []Statement{{
		SQL:    d1.DeadLetterAdd,
		Params: []any{ev.ID, effect, attempts, msg, rej, d1.FormatTime(now), string(evJSON)},
	}}}, nil)
}

// doer is rules.Doer over the shell.
type doer struct{ h *host }

func (d *doer) Execute(_ context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	return execute(d.h, req)
}

// fetchArg is a "fetch" operation's argument; Body is text (JSON).
type fetchArg struct {
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      *string           `json:"body"`
	TimeoutMS int64             `json:"timeoutMs"`
	MaxBytes  int               `json:"maxBytes"` // of the answer's body to read
	// Redirect is fetch's: "manual", as a redirect is not followed (an
	// effect fails: where it leads was not checked).
	Redirect string `json:"redirect"`
}

func (d *doer) Fetch(_ context.Context, req *rules.Request) (*rules.Reply, error) {
	a := fetchArg{Method: req.Method, URL: req.URL, Headers: req.Header, TimeoutMS: req.Timeout.Milliseconds(), MaxBytes: rules.SnippetBytes, Redirect: "manual"}
	if req.Body != nil {
		s := string(req.Body)
		a.Body = &s
	}
	var r struct {
		rules.Reply
		Reason   string `json:"reason"` // the status line's reason phrase, if any
		TimedOut bool   `json:"timedOut"`
		Error    string `json:"error"`
	}
	if err := d.h.do(Op{Kind: "fetch", Arg: a}, &r); err != nil {
		return nil, err
	}
	if r.TimedOut {
		return nil, rules.TimedOut(fmt.Errorf("%s", r.Error))
	}
	if r.Reason != "" {
		r.StatusText = strconv.Itoa(r.Status) + " " + r.Reason
	}
	return &r.Reply, nil
}

// deadLetters is cuesource.DeadLetters over D1; a retry goes to the queue.
type deadLetters struct{ h *host }

func (l *deadLetters) List(context.Context) ([]cuesource.DeadLetter, error) {
	res, err := l.h.query(d1.DeadLetterList)
	if err != nil {
		return nil, err
	}
	out := []cuesource.DeadLetter{}
	for _, r := range res.Rows {
		d, err := d1.DecodeDeadLetter(r)
		if err != nil {
			return nil, err
		}
		out = append(out, cuesource.DeadLetter{ID: d.ID, EventID: d.EventID, Effect: d.Consumer, Attempts: d.Attempts, Error: d.Error, Rejection: d.Rejection, Time: d.Time})
	}
	return out, nil
}

func (l *deadLetters) Retry(_ context.Context, id int64) error {
	res, err := l.h.query(d1.DeadLetterGet, id)
	if err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		return fmt.Errorf("no dead letter %d: %w", id, cuesource.ErrUnknown)
	}
	effect, evJSON, err := d1.DecodeRedelivery(res.Rows[0])
	if err != nil {
		return fmt.Errorf("dead letter %d: %w", id, err)
	}
	var ev wireEvent
	if err := json.Unmarshal(evJSON, &ev); err != nil {
		return fmt.Errorf("dead letter %d: %w", id, err)
	}
	if err := l.h.do(Op{Kind: "enqueue", Arg: map[string]any{"effect": effect, "event": ev}}, nil); err != nil {
		return err
	}
	_, err = l.h.query(d1.DeadLetterRemove, id)
	return err
}

func (l *deadLetters) Discard(_ context.Context, id int64) error {
	res, err := l.h.query(d1.DeadLetterRemove, id)
	if err != nil {
		return err
	}
	if len(res.Rows) == 0 {
		return fmt.Errorf("no dead letter %d: %w", id, cuesource.ErrUnknown)
	}
	return nil
}

type queueInput struct {
	// Queue is the queue the message came from: the effects queue or
	// its dead-letter queue (Config.DeadLetterQueue).
	Queue    string    `json:"queue"`
	Effect   string    `json:"effect"`
	Event    wireEvent `json:"event"`
	Attempts int       `json:"attempts"` // the queue's count, this one included
	Now      time.Time `json:"now"`
	ID       string    `json:"id"`
}

// Queued says what the queue does with a message: acknowledge it, or
// deliver it again after DelaySeconds.
type Queued struct {
	Retry        bool  `json:"retry"`
	DelaySeconds int64 `json:"delaySeconds"`
}

// queue handles one message of the effects queue (a delivery by the rules,
// retried after their backoff) or of its dead-letter queue (recorded in
// the dead letters).
func (c *Core) queue(in []byte, h *host) (any, error) {
	var qi queueInput
	if err := decodeInput(in, &qi); err != nil {
		return nil, err
	}
	logf := func(level, format string, args ...any) {
		_ = h.do(Op{Kind: "log", Method: level, Arg: "cuesource: " + fmt.Sprintf(format, args...)}, nil)
	}
	if qi.Queue != "" && qi.Queue == c.cfg.DeadLetterQueue {
		msg := fmt.Sprintf("the queue gave up on the delivery after %d attempts", qi.Attempts)
		return Queued{}, c.writeDeadLetter(h, qi.Effect, qi.Event, qi.Attempts, msg, nil, qi.Now)
	}
	d, err := c.deliverOnce(h, deliverInput{Effect: qi.Effect, Event: qi.Event, Attempts: qi.Attempts - 1, Now: qi.Now, ID: qi.ID})
	if err != nil {
		return nil, err
	}
	switch d.Kind {
	case "retry", "release":
		logf("warn", "effect %s for event %s failed, retrying: %s", qi.Effect, qi.Event.ID, d.Error)
		return Queued{Retry: true, DelaySeconds: (d.BackoffMS + 999) / 1000}, nil
	case "dead":
		logf("error", "effect %s for event %s gave up: %s", qi.Effect, qi.Event.ID, d.Error)
	}
	return Queued{}, nil
}
