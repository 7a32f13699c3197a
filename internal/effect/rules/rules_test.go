package rules_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/effect/egress"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/internal/effect/rules"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

// contextSrc has accounts and transfers: a transfer withdraws from its
// account (failing the transfer when refused) and is announced by a
// webhook.
const contextSrc = `package fx

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "fx"
	env: {
		HOOK_URL: {}
		TOKEN: default: "s3cret"
	}
	aggregates: {
		account: {
			#state: balance: number
			initial: balance: 0
			commands: Withdraw: {
				#payload: {amount: number & >0, transfer: string}
				require: "insufficient funds": "state.balance >= cmd.amount"
				emit: [{event: "Withdrawn", payload: {amount: "cmd.amount", transfer: "cmd.transfer"}}]
			}
			events: Withdrawn: {#payload: {amount: number, transfer: string}, apply: balance: "state.balance - event.amount"}
		}
		transfer: {
			#state: {status: string, reason: string}
			initial: {status: "new", reason: ""}
			commands: {
				Start: {
					instance: "new"
					#payload: {from: string, amount: number}
					emit: [{event: "Started", payload: {from: "cmd.from", amount: "cmd.amount"}}]
				}
				Fail: {
					#payload: reason: string
					emit: [{event: "Failed", payload: reason: "cmd.reason"}]
				}
			}
			events: {
				Started: {#payload: {from: string, amount: number}, apply: status: "'started'"}
				Failed: {#payload: reason: string, apply: {status: "'failed'", reason: "event.reason"}}
			}
		}
	}
	effects: {
		withdraw: {
			on: "transfer.Started"
			retry: {max: 3, backoff: "10ms"}
			send: {
				aggregate: "account"
				id: "event.from"
				command: "Withdraw"
				payload: {amount: "event.amount", transfer: "meta.aggregateId"}
				onReject: {
					aggregate: "transfer"
					id: "meta.aggregateId"
					command: "Fail"
					payload: reason: "rejection.name"
				}
			}
		}
		withdraw_blind: {
			on: "transfer.Started"
			send: {
				aggregate: "account"
				id: "event.from"
				command: "Withdraw"
				payload: {amount: "event.amount", transfer: "meta.aggregateId"}
			}
		}
		notify: {
			on: "transfer.Started"
			if: "event.amount > 1"
			retry: {max: 3, backoff: "10ms"}
			http: {
				url: env: "HOOK_URL"
				headers: Authorization: "'Bearer ' + env.TOKEN"
				body: {transfer: "meta.aggregateId", amount: "event.amount"}
				timeout: "2s"
			}
		}
	}
}
`

func compile(t *testing.T) *interpreter.Program {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fx.cue")
	require.NoError(t, os.WriteFile(path, []byte(contextSrc), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

// doer answers from canned responses and records what it was asked.
type doer struct {
	execs   []*cuesource.CommandRequest
	answers []cuesource.Answer // one per Execute, in order

	fetches []*rules.Request
	reply   *rules.Reply
	err     error
}

func (d *doer) Execute(_ context.Context, req *cuesource.CommandRequest) (cuesource.Answer, error) {
	d.execs = append(d.execs, req)
	if len(d.answers) == 0 {
		return cuesource.Answer{}, errors.New("no answer left")
	}
	r := d.answers[0]
	d.answers = d.answers[1:]
	return r, nil
}

func (d *doer) Fetch(_ context.Context, req *rules.Request) (*rules.Reply, error) {
	d.fetches = append(d.fetches, req)
	return d.reply, d.err
}

var now = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func deliverer(p *interpreter.Program) *rules.Deliverer {
	return &rules.Deliverer{
		Prog:  p,
		Vars:  map[string]string{"HOOK_URL": "https://user:pw@hooks.example/in?sig=x", "TOKEN": "s3cret"},
		Now:   func() time.Time { return now },
		NewID: func() string { return "cmd-1" },
	}
}

// started is transfer t1's Started event: 50 from a1.
var started = store.Event{
	ID: "ev1", Position: 7, Aggregate: "transfer", Instance: "t1", Version: 1, Type: "Started",
	Time: now.Add(-time.Minute), CommandID: "c0", Payload: json.RawMessage(`{"from":"a1","amount":50}`),
}

func rejected(kind engine.Kind, name, message string) cuesource.Answer {
	return cuesource.Answer{Rejection: &cuesource.Rejection{Kind: kind, Name: name, Message: message}}
}

func TestSendAccepted(t *testing.T) {
	p := compile(t)
	do := &doer{answers: []cuesource.Answer{{Version: 1, Created: true, Body: []byte(`{}`)}}}
	out := deliverer(p).Deliver(context.Background(), "withdraw", started, do)
	assert.Equal(t, rules.Done, out.Kind, out.Err)
	assert.Equal(t, "a1", out.Target)
	require.Len(t, do.execs, 1)
	req := do.execs[0]
	assert.Equal(t, "account", req.Aggregate)
	assert.Equal(t, "a1", req.ID)
	assert.Equal(t, "Withdraw", req.Command)
	assert.JSONEq(t, `{"amount":50,"transfer":"t1"}`, string(req.Payload))
	assert.Equal(t, "effect:withdraw:ev1", req.IdempotencyKey)
	assert.Equal(t, "cmd-1", req.CommandID)
	assert.Equal(t, now, req.Time)

	// A redelivery builds the same request: same key, same hash.
	do2 := &doer{answers: []cuesource.Answer{{Version: 2}}}
	deliverer(p).Deliver(context.Background(), "withdraw", started, do2)
	assert.Equal(t, cuesource.RequestHash(req), cuesource.RequestHash(do2.execs[0]))
}

func TestSendRejected(t *testing.T) {
	p := compile(t)
	refused := rejected(engine.KindGuard, "insufficient funds", "state.balance >= cmd.amount")

	// With onReject: the transfer fails, giving the guard's name.
	do := &doer{answers: []cuesource.Answer{refused, {Version: 2}}}
	out := deliverer(p).Deliver(context.Background(), "withdraw", started, do)
	assert.Equal(t, rules.Done, out.Kind, out.Err)
	assert.Equal(t, `account a1 Withdraw was rejected: guard "insufficient funds": state.balance >= cmd.amount; onReject sent transfer t1 Fail`, out.Note)
	require.Len(t, do.execs, 2)
	re := do.execs[1]
	assert.Equal(t, "transfer", re.Aggregate)
	assert.Equal(t, "t1", re.ID)
	assert.Equal(t, "Fail", re.Command)
	assert.Equal(t, "effect:withdraw:reject:ev1", re.IdempotencyKey)
	assert.JSONEq(t, `{"reason":"insufficient funds"}`, string(re.Payload))

	// The reaction refused too: dead, with the first rejection.
	do = &doer{answers: []cuesource.Answer{refused, rejected(engine.KindInstanceMissing, "", "no transfer t1")}}
	out = deliverer(p).Deliver(context.Background(), "withdraw", started, do)
	assert.Equal(t, rules.Dead, out.Kind)
	assert.Equal(t, `account a1 Withdraw was rejected: guard "insufficient funds": state.balance >= cmd.amount; onReject transfer t1 Fail was rejected too: instance_missing: no transfer t1`, out.Err)
	assert.JSONEq(t, `{"kind":"guard","name":"insufficient funds","message":"state.balance >= cmd.amount"}`, string(out.Rejection))

	// The reaction failed for now: retried, as the reaction.
	do = &doer{answers: []cuesource.Answer{refused, rejected(cuesource.KindInternal, "", "stored state of transfer t1: unexpected end of JSON input")}}
	out = deliverer(p).Deliver(context.Background(), "withdraw", started, do)
	assert.Equal(t, rules.Retry, out.Kind)
	assert.Equal(t, `account a1 Withdraw was rejected: guard "insufficient funds": state.balance >= cmd.amount; onReject: transfer t1 Fail: internal: stored state of transfer t1: unexpected end of JSON input`, out.Err)
	assert.NotEmpty(t, out.Rejection)

	// Without onReject: dead-lettered with the rejection.
	do = &doer{answers: []cuesource.Answer{refused}}
	out = deliverer(p).Deliver(context.Background(), "withdraw_blind", started, do)
	assert.Equal(t, rules.Dead, out.Kind)
	assert.Equal(t, `account a1 Withdraw was rejected: guard "insufficient funds": state.balance >= cmd.amount`, out.Err)
	assert.JSONEq(t, `{"kind":"guard","name":"insufficient funds","message":"state.balance >= cmd.amount"}`, string(out.Rejection))

	// A concurrent write is not permanent; the key reused means it ran.
	do = &doer{answers: []cuesource.Answer{rejected(cuesource.KindConcurrentWrite, "", "")}}
	out = deliverer(p).Deliver(context.Background(), "withdraw_blind", started, do)
	assert.Equal(t, rules.Retry, out.Kind)
	assert.Equal(t, "account a1 Withdraw: concurrent_write", out.Err)
	do = &doer{answers: []cuesource.Answer{rejected(cuesource.KindKeyReused, "", "")}}
	out = deliverer(p).Deliver(context.Background(), "withdraw_blind", started, do)
	assert.Equal(t, rules.Done, out.Kind)
	assert.Contains(t, out.Note, "ran before, with another payload")

	// No answer at all.
	do = &doer{}
	out = deliverer(p).Deliver(context.Background(), "withdraw_blind", started, do)
	assert.Equal(t, rules.Retry, out.Kind)
	assert.Equal(t, "account a1 Withdraw: no answer left", out.Err)
}

func TestWebhook(t *testing.T) {
	p := compile(t)
	d := deliverer(p)

	do := &doer{reply: &rules.Reply{Status: 204, StatusText: "204 No Content"}}
	out := d.Deliver(context.Background(), "notify", started, do)
	assert.Equal(t, rules.Done, out.Kind, out.Err)
	require.Len(t, do.fetches, 1)
	req := do.fetches[0]
	assert.Equal(t, "POST", req.Method)
	assert.Equal(t, "https://user:pw@hooks.example/in?sig=x", req.URL)
	assert.Equal(t, 2*time.Second, req.Timeout)
	assert.Equal(t, map[string]string{
		"Authorization":      "Bearer s3cret",
		"Content-Type":       "application/json",
		"Idempotency-Key":    "notify:ev1",
		"Cuesource-Event-Id": "ev1",
		"Cuesource-Effect":   "notify",
	}, req.Header)
	assert.JSONEq(t, `{"transfer":"t1","amount":50}`, string(req.Body))

	// 503: retried, as soon as the receiver asked.
	do = &doer{reply: &rules.Reply{Status: 503, StatusText: "503 Service Unavailable", RetryAfter: "7", Snippet: " busy\n"}}
	out = d.Deliver(context.Background(), "notify", started, do)
	assert.Equal(t, rules.Retry, out.Kind)
	assert.Equal(t, "POST https://hooks.example/in: 503 Service Unavailable", out.Err, "the receiver's body is kept apart")
	assert.Equal(t, "busy", out.Reply)
	assert.Equal(t, 7*time.Second, out.RetryAfter)
	do.reply.RetryAfter = now.Add(90 * time.Second).Format("Mon, 02 Jan 2006 15:04:05 GMT")
	assert.Equal(t, 90*time.Second, d.Deliver(context.Background(), "notify", started, do).RetryAfter)

	// The last attempt settles into a dead letter.
	assert.Equal(t, rules.Retry, rules.Settle(p, "notify", 1, out).Kind)
	last := rules.Settle(p, "notify", 2, out)
	assert.Equal(t, rules.Dead, last.Kind)
	assert.Equal(t, "POST https://hooks.example/in: 503 Service Unavailable (gave up after 3 attempts)", last.Err)
	assert.Equal(t, "POST https://hooks.example/in: 503 Service Unavailable (gave up after 3 attempts); the receiver answered: busy", last.Logged())
	rep, _ := rules.ReportOf("notify", "ev1", last)
	assert.Equal(t, "POST https://hooks.example/in: 503 Service Unavailable (gave up after 3 attempts) (dead-lettered)", rep.Error, "a command's caller never reads the receiver's body")
	assert.Equal(t, last.Err, rules.Public(last.Logged()))

	// 404: dead at once.
	do = &doer{reply: &rules.Reply{Status: 404}}
	out = d.Deliver(context.Background(), "notify", started, do)
	assert.Equal(t, rules.Dead, out.Kind)
	assert.Equal(t, "POST https://hooks.example/in: 404 Not Found", out.Err)

	// No answer in time.
	do = &doer{err: rules.TimedOut(errors.New("context deadline exceeded"))}
	out = d.Deliver(context.Background(), "notify", started, do)
	assert.Equal(t, rules.Retry, out.Kind)
	assert.Equal(t, "POST https://hooks.example/in: no answer within 2s", out.Err)
	do = &doer{err: errors.New("connection refused")}
	assert.Equal(t, "connection refused", d.Deliver(context.Background(), "notify", started, do).Err)

	// Cut short by the caller: released, not counted.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.Equal(t, rules.Release, d.Deliver(ctx, "notify", started, do).Kind)

	// The `if` is false: skipped; no URL: dead.
	small := started
	small.Payload = json.RawMessage(`{"from":"a1","amount":1}`)
	assert.Equal(t, rules.Skip, d.Deliver(context.Background(), "notify", small, do).Kind)
	d.Vars = nil
	out = d.Deliver(context.Background(), "notify", started, do)
	assert.Equal(t, rules.Dead, out.Kind)
	assert.Contains(t, out.Err, "env HOOK_URL (the URL) is empty")

	out = d.Deliver(context.Background(), "gone", started, do)
	assert.Equal(t, rules.Outcome{Kind: rules.Dead, Err: `the context has no effect "gone" (any more)`}, out)
}

func TestBackoff(t *testing.T) {
	p := compile(t)
	assert.Equal(t, 10*time.Millisecond, rules.Backoff(p, "notify", 1, 0, time.Hour))
	assert.Equal(t, 40*time.Millisecond, rules.Backoff(p, "notify", 3, 0, time.Hour))
	assert.Equal(t, 5*time.Second, rules.Backoff(p, "notify", 3, 5*time.Second, time.Hour))
	assert.Equal(t, time.Hour, rules.Backoff(p, "notify", 100, 0, time.Hour))
	assert.Equal(t, time.Minute, rules.Backoff(p, "notify", 2, time.Hour, time.Minute))
	assert.Equal(t, 2*time.Second, rules.Backoff(p, "gone", 2, 0, time.Hour))
}

func TestReports(t *testing.T) {
	cases := []struct {
		out  rules.Outcome
		want string
	}{
		{rules.Outcome{Kind: rules.Done}, `{"effect":"e","eventId":"ev","ok":true}`},
		{rules.Outcome{Kind: rules.Retry, Err: "x"}, `{"effect":"e","eventId":"ev","ok":false,"error":"x (will retry)"}`},
		{rules.Outcome{Kind: rules.Dead, Err: "x"}, `{"effect":"e","eventId":"ev","ok":false,"error":"x (dead-lettered)"}`},
		{rules.Outcome{Kind: rules.Release}, `{"effect":"e","eventId":"ev","ok":false,"error":"not delivered before the request ended; it will be retried"}`},
	}
	for _, c := range cases {
		rep, ok := rules.ReportOf("e", "ev", c.out)
		require.True(t, ok)
		b, _ := json.Marshal(rep)
		assert.JSONEq(t, c.want, string(b), c.out.Kind.String())
	}
	_, ok := rules.ReportOf("e", "ev", rules.Outcome{Kind: rules.Skip})
	assert.False(t, ok)

	reps := []rules.Report{{Effect: "e", EventID: "ev", OK: true}}
	body, ok := rules.AppendEffects([]byte(` {"id":"t1"} `), reps)
	assert.True(t, ok)
	assert.Equal(t, `{"id":"t1","effects":[{"effect":"e","eventId":"ev","ok":true}]}`, string(body))
	body, ok = rules.AppendEffects([]byte(`{ }`), reps)
	assert.True(t, ok)
	assert.Equal(t, `{ "effects":[{"effect":"e","eventId":"ev","ok":true}]}`, string(body))
	body, ok = rules.AppendEffects([]byte(`[]`), reps)
	assert.False(t, ok)
	assert.Equal(t, `[]`, string(body))
}

// A webhook's URL passes the address policy before the call: literal
// addresses always, names by their spelling where the runtime cannot
// resolve them (ByName, Workers); an address the runtime refused when it
// connected, and a redirect, fail the delivery for good.
func TestWebhookPolicy(t *testing.T) {
	p := compile(t)
	d := deliverer(p)
	reply := &rules.Reply{Status: 204}
	deliver := func(url string, byName bool, do *doer) rules.Outcome {
		d.Vars["HOOK_URL"], d.ByName = url, byName
		return d.Deliver(context.Background(), "notify", started, do)
	}
	for _, url := range []string{
		"file:///etc/passwd", "gopher://hooks.example/", "http://169.254.169.254/latest/meta-data/",
		"http://127.0.0.1:8080/admin/dead-letters", "http://[::1]/", "http://[::ffff:10.0.0.1]/",
		"http://0.0.0.0:8080/", "http://[::]/", "http://[fd00:ec2::254]/", "http://100.64.0.1/", "http://2130706433/",
	} {
		do := &doer{reply: reply}
		out := deliver(url, false, do)
		assert.Equal(t, rules.Dead, out.Kind, url)
		assert.Contains(t, out.Err, "env HOOK_URL, the URL: ", url)
		assert.Empty(t, do.fetches, "%s is not called", url)
	}
	out := deliver("http://127.0.0.1:8080/hook?sig=x", false, &doer{reply: reply})
	assert.Equal(t, "env HOOK_URL, the URL: 127.0.0.1 is a loopback address: webhooks may not call it unless the operator allows it (serve --webhook-allow, Worker var CUESOURCE_WEBHOOK_ALLOW)", out.Err)

	// Names: by their spelling only where they cannot be resolved.
	do := &doer{reply: reply}
	assert.Equal(t, rules.Done, deliver("http://localhost:8080/", false, do).Kind)
	assert.Len(t, do.fetches, 1, "natively the dialer judges what localhost resolves to")
	do = &doer{reply: reply}
	out = deliver("http://metadata.google.internal/", true, do)
	assert.Equal(t, rules.Dead, out.Kind)
	assert.Contains(t, out.Err, "metadata.google.internal is a local network's name")
	assert.Empty(t, do.fetches)

	// The operator's exceptions.
	var err error
	d.Egress, err = egress.Parse("127.0.0.1, hooks.internal")
	require.NoError(t, err)
	for _, url := range []string{"http://127.0.0.1:8080/hook", "http://hooks.internal/in"} {
		do = &doer{reply: reply}
		assert.Equal(t, rules.Done, deliver(url, true, do).Kind, url)
		assert.Len(t, do.fetches, 1, url)
	}
	assert.Equal(t, rules.Dead, deliver("http://10.0.0.1/", true, &doer{reply: reply}).Kind)
	d.Egress = egress.Policy{}

	// Refused where the runtime connected (a name resolved to a private
	// address): for good, not retried.
	do = &doer{}
	do.err = egress.Policy{}.CheckAddr("rebind.example", netip.MustParseAddr("169.254.169.254"))
	out = deliver("https://rebind.example/in?sig=x", true, do)
	assert.Equal(t, rules.Dead, out.Kind)
	assert.Equal(t, "POST https://rebind.example/in: rebind.example (169.254.169.254) is a cloud metadata address: webhooks may not call it unless the operator allows it (serve --webhook-allow, Worker var CUESOURCE_WEBHOOK_ALLOW)", out.Err)

	// A redirect is not followed: the delivery fails for good; where it
	// led is kept for the dead letter, not for the caller.
	do = &doer{reply: &rules.Reply{Status: 302, StatusText: "302 Found", Location: "http://169.254.169.254/latest/meta-data/", Snippet: "moved"}}
	out = deliver("https://hooks.example/in", true, do)
	assert.Equal(t, rules.Dead, out.Kind)
	assert.Equal(t, "POST https://hooks.example/in: 302 Found (a redirect: webhooks do not follow redirects)", out.Err)
	assert.Equal(t, "Location: http://169.254.169.254/latest/meta-data/ moved", out.Reply)
	rep, _ := rules.ReportOf("notify", "ev1", out)
	assert.NotContains(t, rep.Error, "169.254")

	// A refused answer's body stays out of the report.
	do = &doer{reply: &rules.Reply{Status: 403, Snippet: `{"AccessKeyId":"AKIA..."}`}}
	out = deliver("https://hooks.example/in", true, do)
	assert.Equal(t, rules.Dead, out.Kind)
	rep, _ = rules.ReportOf("notify", "ev1", out)
	assert.Equal(t, "POST https://hooks.example/in: 403 Forbidden (dead-lettered)", rep.Error)
	assert.Contains(t, out.Logged(), "AKIA")
}
