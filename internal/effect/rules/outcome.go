package rules

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cuesource/cuesource/interpreter"
)

// Kind is what becomes of a delivery (an outbox row) after an attempt.
type Kind int

const (
	Done    Kind = iota // delivered: the row is deleted
	Skip                // the effect's `if` is false: the row is deleted
	Retry               // failed for now: attempts+1, due again after the backoff
	Dead                // failed for good: moved to the dead letters
	Release             // not attempted or cut short (shutting down, the request ended): due again now, not counted
)

var kindNames = [...]string{Done: "done", Skip: "skip", Retry: "retry", Dead: "dead", Release: "release"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Outcome is the result of one delivery.
type Outcome struct {
	Kind       Kind
	Err        string          // Retry and Dead: what failed
	Rejection  json.RawMessage // a send's permanent rejection: {kind, name, message}
	RetryAfter time.Duration   // Retry: what the receiver asked for
	Note       string          // to log: what happened besides a plain delivery
	Target     string          // a send's instance id
	// Reply is what a webhook's receiver answered (the start of its body,
	// at most SnippetBytes): for the server log and the dead letter (which
	// only admins read, see [Outcome.Logged]), never for a command's
	// caller ([ReportOf]).
	Reply string
}

// replySep joins an outcome's error and its receiver's reply in a logged
// text (Logged); [Public] cuts it there.
const replySep = "; the receiver answered: "

// Logged is what the server log and a dead letter keep of a failed
// outcome: Err, then the receiver's reply when there is one.
func (o Outcome) Logged() string {
	if o.Reply == "" {
		return o.Err
	}
	return o.Err + replySep + o.Reply
}

// Public is a logged text ([Outcome.Logged], e.g. a dead letter's error)
// without the receiver's reply: what a command's caller may read.
func Public(logged string) string {
	if i := strings.Index(logged, replySep); i >= 0 {
		return logged[:i]
	}
	return logged
}

// Settle turns a Retry that was attempt number attempts+1 into Dead when
// that was the effect's last (its MaxTries; 1 for an effect p no longer
// has). Other outcomes are returned as they are.
func Settle(p *interpreter.Program, effect string, attempts int, out Outcome) Outcome {
	if out.Kind != Retry {
		return out
	}
	maxTries := 1
	if e := p.Effects[effect]; e != nil {
		maxTries = e.MaxTries
	}
	if attempts+1 >= maxTries {
		out.Kind = Dead
		out.Err = fmt.Sprintf("%s (gave up after %d attempts)", out.Err, attempts+1)
	}
	return out
}

// DefaultMaxBackoff caps the wait between a delivery's attempts, on both
// runtimes (natively effect.Options.MaxBackoff may lower it).
const DefaultMaxBackoff = time.Hour

// Backoff is the wait after the n-th failed attempt: the effect's backoff
// (1s when it has none) doubled n-1 times, at least what the receiver
// asked for (Retry-After), at most maxBackoff.
func Backoff(p *interpreter.Program, effect string, n int, asked, maxBackoff time.Duration) time.Duration {
	base := time.Second
	if e := p.Effects[effect]; e != nil && e.Backoff > 0 {
		base = e.Backoff
	}
	w := maxBackoff
	if n-1 < 40 {
		if b := base << (n - 1); b > 0 && b < w {
			w = b
		}
	}
	return min(max(w, asked), maxBackoff)
}

// Report is the outcome of one sync effect, as a command's response gives
// it in its "effects" member.
type Report struct {
	Effect  string `json:"effect"`
	EventID string `json:"eventId"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
}

// ReportOf is the sync report of a (settled) outcome; it reports false for
// a skipped effect, which is not reported.
func ReportOf(effect, eventID string, out Outcome) (Report, bool) {
	rep := Report{Effect: effect, EventID: eventID}
	switch out.Kind {
	case Skip:
		return rep, false
	case Done:
		rep.OK = true
	case Retry:
		rep.Error = out.Err + " (will retry)"
	case Dead:
		rep.Error = out.Err + " (dead-lettered)"
	default:
		rep.Error = "not delivered before the request ended; it will be retried"
	}
	return rep, true
}

// AppendEffects adds "effects": reports to a JSON object body; it reports
// false, and returns body as it is, when body is not an object.
func AppendEffects(body []byte, reports []Report) ([]byte, bool) {
	b := bytes.TrimSpace(body)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return body, false
	}
	enc, err := json.Marshal(reports)
	if err != nil {
		return body, false
	}
	out := make([]byte, 0, len(b)+len(enc)+16)
	out = append(out, b[:len(b)-1]...)
	if len(bytes.TrimSpace(b[1:len(b)-1])) > 0 {
		out = append(out, ',')
	}
	out = append(out, `"effects":`...)
	out = append(out, enc...)
	out = append(out, '}')
	return out, true
}
