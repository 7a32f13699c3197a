package bench

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

const contextPath = "../contexts/example.cue"

var at = time.Date(2026, 11, 26, 9, 30, 0, 0, time.UTC)

func compile(tb testing.TB) *interpreter.Program {
	tb.Helper()
	m, err := compiler.Compile(contextPath)
	if err != nil {
		tb.Fatalf("compile %s: %v", contextPath, err)
	}
	p, err := interpreter.Compile(m)
	if err != nil {
		tb.Fatalf("interpret %s: %v", contextPath, err)
	}
	return p
}

// pair decides every command with both deciders and keeps their states.
type pair struct {
	tb   testing.TB
	p    *interpreter.Program
	in   engine.Current
	hand Current
	n    int
}

func newPair(tb testing.TB, p *interpreter.Program) *pair {
	return &pair{tb: tb, p: p, hand: Current{State: InitialCart()}}
}

func (x *pair) envelopes(command, payload string, expected int64) (engine.Envelope, Command) {
	x.n++
	id := fmt.Sprintf("cmd-%d", x.n)
	var raw []byte
	if payload != "" {
		raw = []byte(payload)
	}
	return engine.Envelope{ID: id, Aggregate: "cart", Instance: "c-1", Command: command, Payload: raw, ExpectedVersion: expected, Time: at},
		Command{ID: id, Instance: "c-1", Command: command, Payload: raw, ExpectedVersion: expected, Time: at}
}

// do runs one command on both, requires them to agree, advances both
// states when the command is accepted and returns "ok" or the rejection's
// name (the guard or invariant, else the kind).
func (x *pair) do(command, payload string, expected int64) string {
	x.tb.Helper()
	env, cmd := x.envelopes(command, payload, expected)
	di, errI := engine.Decide(x.p, x.in, env, engine.Options{Strict: true})
	dh, errH := Decide(x.hand, cmd)
	gotI, gotH := outcome(errI), outcome(errH)
	if gotI != gotH {
		x.tb.Fatalf("%s %s: interpreted %s (%v), hand-written %s (%v)", command, payload, gotI, errI, gotH, errH)
	}
	if errI != nil {
		return gotI
	}
	if len(di.Events) != len(dh.Events) {
		x.tb.Fatalf("%s %s: interpreted emits %d events, hand-written %d", command, payload, len(di.Events), len(dh.Events))
	}
	for i := range di.Events {
		ei, eh := di.Events[i], dh.Events[i]
		if ei.Type != eh.Type || ei.ID != eh.ID || ei.Version != eh.Version || !ei.Time.Equal(eh.Time) {
			x.tb.Fatalf("%s %s: event %d: interpreted %s %s v%d, hand-written %s %s v%d", command, payload, i, ei.ID, ei.Type, ei.Version, eh.ID, eh.Type, eh.Version)
		}
		if !value.Equal(ei.Payload, asJSON(x.tb, eh.Payload)) {
			x.tb.Fatalf("%s %s: %s payload: interpreted %s, hand-written %s", command, payload, ei.Type, encode(x.tb, ei.Payload), encode(x.tb, eh.Payload))
		}
	}
	if !value.Equal(di.State, asJSON(x.tb, dh.State)) {
		x.tb.Fatalf("%s %s: state: interpreted %s, hand-written %s", command, payload, encode(x.tb, di.State), encode(x.tb, dh.State))
	}
	if di.Version != dh.Version {
		x.tb.Fatalf("%s %s: version: interpreted %d, hand-written %d", command, payload, di.Version, dh.Version)
	}
	// Stronger than equal values: the same bytes on the wire.
	if bi, bh := encode(x.tb, di), encode(x.tb, dh); !bytes.Equal(bi, bh) {
		x.tb.Fatalf("%s %s: encoded decisions differ:\ninterpreted %s\nhand-written %s", command, payload, bi, bh)
	}
	x.in = engine.Current{State: di.State, Version: di.Version}
	x.hand = Current{State: dh.State, Version: dh.Version}
	return "ok"
}

func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var ee *engine.Error
	if errors.As(err, &ee) {
		if ee.Name != "" {
			return ee.Name
		}
		return string(ee.Kind)
	}
	var r *Rejection
	if errors.As(err, &r) {
		if r.Name != "" {
			return r.Name
		}
		return r.Kind
	}
	return "error: " + err.Error()
}

func encode(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := value.Encode(v)
	if err != nil {
		tb.Fatalf("encode %T: %v", v, err)
	}
	return b
}

// asJSON turns a typed value into the JSON model the engine uses.
func asJSON(tb testing.TB, v any) any {
	tb.Helper()
	out, err := value.Decode(encode(tb, v), value.Limits{})
	if err != nil {
		tb.Fatalf("decode: %v", err)
	}
	return out
}

type step struct {
	command, payload string
	want             string // "ok" or the rejection's name
	expected         int64  // expected version; 0 means any
}

func TestDeciderAgrees(t *testing.T) {
	p := compile(t)
	many := make([]step, 0, 21)
	for i := 1; i <= 20; i++ {
		many = append(many, step{"AddItem", fmt.Sprintf(`{"sku":"SKU-%02d","qty":1,"price":30}`, i), "ok", 0})
	}
	carts := map[string][]step{
		"the scenario walk": {
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`, "instance_missing", 0},
			{"Open", `{"customer":""}`, "schema", 0},
			{"Open", `{}`, "schema", 0},
			{"Open", `{"customer":"ada","vip":true}`, "schema", 0},
			{"Open", `{"customer":"ada"}`, "ok", 0},
			{"Open", `{"customer":"bob"}`, "instance_exists", 0},
			{"AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`, "ok", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`, "ok", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":5}`, "price changed for sku", 0},
			{"AddItem", `{"sku":"tea-01","qty":1,"price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TE","qty":1,"price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01-TEA-01-TEA-01-X","qty":1,"price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":0,"price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":101,"price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1.5,"price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":"1","price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":0}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":-4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":10000.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":4.5,"note":"x"}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":null,"price":4.5}`, "schema", 0},
			{"AddItem", `{"sku":"TEA-01","qty":99999999999999999999,"price":4.5}`, "schema", 0},
			{"AddItem", `null`, "schema", 0},
			{"AddItem", `[]`, "schema", 0},
			{"AddItem", `   `, "schema", 0},
			{"AddItem", `{"sku":"TEA-01",`, "invalid_json", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":4.5} {}`, "invalid_json", 0},
			{"AddItem", `{"sku":"MUG-02","qty":2.0,"price":50}`, "ok", 0},
			{"AddItem", `{"sku":"MUG-02","qty":1,"price":50.0}`, "ok", 0},
			{"AddItem", `{"sku":"VASE-7","qty":100,"price":10000}`, "ok", 0},
			{"RemoveItem", `{"sku":"VASE-7"}`, "ok", 0},
			{"AddItem", `{"sku":"SPOON-3","qty":1,"price":1e1}`, "ok", 0},
			{"RemoveItem", `{"sku":"NOPE-1"}`, "item not in cart", 0},
			{"RemoveItem", `{"sku":""}`, "item not in cart", 0},
			{"RemoveItem", `{}`, "schema", 0},
			{"RemoveItem", `{"sku":7}`, "schema", 0},
			{"ApplyCoupon", `{"code":"FREE100"}`, "ok", 0},
			{"ApplyCoupon", `{"code":"x"}`, "schema", 0},
			{"ApplyCoupon", `{"code":"VIP25"}`, "ok", 0},
			{"ApplyCoupon", `{"code":"WELCOME10"}`, "a coupon is already used", 0},
			{"RemoveItem", `{"sku":"MUG-02"}`, "discount never exceeds the total", 0},
			{"CheckOut", `{"x":1}`, "schema", 0},
			{"CheckOut", `null`, "schema", 0},
			{"CheckOut", ``, "version_conflict", 3},
			{"Refund", `{}`, "unknown_command", 0},
			{"CheckOut", `{}`, "ok", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`, "cart is not open", 0},
			{"Abandon", ``, "cart is not open", 0},
			{"CheckOut", ``, "cart is not open", 0},
		},
		"a small cart with a welcome coupon": {
			{"Open", `{"customer":"ada"}`, "ok", 0},
			{"CheckOut", ``, "cart is empty", 0},
			{"AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`, "ok", 0},
			{"ApplyCoupon", `{"code":"WELCOME10"}`, "ok", 0},
			{"CheckOut", ``, "ok", 0},
		},
		"a big cart gets a gift": {
			{"Open", `{"customer":"ada"}`, "ok", 0},
			{"AddItem", `{"sku":"CHAIR-9","qty":2,"price":300}`, "ok", 1},
			{"CheckOut", ``, "ok", 2},
		},
		"an abandoned cart": {
			{"Open", `{"customer":"ada"}`, "ok", 0},
			{"AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`, "ok", 0},
			{"Abandon", `{}`, "ok", 0},
			{"RemoveItem", `{"sku":"TEA-01"}`, "cart is not open", 0},
			{"ApplyCoupon", `{"code":"VIP25"}`, "cart is not open", 0},
		},
		"twenty lines at most": append(append([]step{{"Open", `{"customer":"ada"}`, "ok", 0}}, many...),
			step{"AddItem", `{"sku":"SKU-21","qty":1,"price":30}`, "at most 20 different items", 0},
			step{"AddItem", `{"sku":"SKU-01","qty":1,"price":30}`, "ok", 0},
			// The gift would be line 21.
			step{"CheckOut", ``, "at most 20 different items", 0},
			step{"RemoveItem", `{"sku":"SKU-20"}`, "ok", 0},
			step{"CheckOut", ``, "ok", 0},
		),
	}
	for name, steps := range carts {
		t.Run(name, func(t *testing.T) {
			x := newPair(t, p)
			for i, s := range steps {
				expected := int64(engine.AnyVersion)
				if s.expected != 0 {
					expected = s.expected
				}
				if got := x.do(s.command, s.payload, expected); got != s.want {
					t.Fatalf("step %d: %s %s: both give %s, want %s", i+1, s.command, s.payload, got, s.want)
				}
			}
		})
	}
}

// The measured command: one more of a line the cart already holds, so the
// price guard reads the line.
var addItem = []byte(`{"sku":"TEA-01","qty":1,"price":4.5}`)

// fixture is a cart holding five lines, decided into by both deciders.
func fixture(tb testing.TB) (*interpreter.Program, *pair) {
	p := compile(tb)
	x := newPair(tb, p)
	for _, s := range []string{
		`{"sku":"TEA-01","qty":2,"price":4.5}`,
		`{"sku":"MUG-02","qty":1,"price":12}`,
		`{"sku":"SPOON-3","qty":6,"price":2.25}`,
		`{"sku":"PLATE-44","qty":4,"price":9.9}`,
		`{"sku":"KETTLE-5","qty":1,"price":39}`,
	} {
		if x.n == 0 {
			if got := x.do("Open", `{"customer":"ada"}`, engine.AnyVersion); got != "ok" {
				tb.Fatalf("Open: %s", got)
			}
		}
		if got := x.do("AddItem", s, engine.AnyVersion); got != "ok" {
			tb.Fatalf("AddItem %s: %s", s, got)
		}
	}
	return p, x
}

var sink any

func BenchmarkHandle(b *testing.B) {
	p, x := fixture(b)
	env, cmd := x.envelopes("AddItem", string(addItem), x.in.Version)
	env.Payload, cmd.Payload = addItem, addItem
	cur, hand := x.in, x.hand

	// Both sides must produce the same bytes, or the comparison is void.
	di, err := engine.Decide(p, cur, env, engine.Options{})
	if err != nil {
		b.Fatal(err)
	}
	dh, err := Decide(hand, cmd)
	if err != nil {
		b.Fatal(err)
	}
	if bi, bh := encode(b, di), encode(b, dh); !bytes.Equal(bi, bh) {
		b.Fatalf("the deciders disagree:\ninterpreted %s\nhand-written %s", bi, bh)
	}

	b.Run("interpreted", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := engine.Decide(p, cur, env, engine.Options{})
			if err != nil {
				b.Fatal(err)
			}
			out, err := value.Encode(d)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
	})
	b.Run("handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := Decide(hand, cmd)
			if err != nil {
				b.Fatal(err)
			}
			out, err := value.Encode(d)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
	})
}

// BenchmarkInterpretedParts splits the interpreted path into its steps.
func BenchmarkInterpretedParts(b *testing.B) {
	p, x := fixture(b)
	env, _ := x.envelopes("AddItem", string(addItem), x.in.Version)
	env.Payload = addItem
	cur := x.in
	agg := p.Aggregates["cart"]
	cmd := agg.Commands["AddItem"]
	added := agg.Events["ItemAdded"]

	payload, err := value.Decode(addItem, value.Limits{})
	if err != nil {
		b.Fatal(err)
	}
	meta := interpreter.Meta{Aggregate: "cart", AggregateID: env.Instance, Version: int(cur.Version),
		Command: env.Command, CommandID: env.ID, Timestamp: at.Format(time.RFC3339Nano)}
	decide := &interpreter.Env{Cmd: payload, State: cur.State, Meta: meta}
	event, err := cmd.Emit[0].Payload(decide)
	if err != nil {
		b.Fatal(err)
	}
	reduce := &interpreter.Env{State: cur.State, Event: event, Meta: meta}
	next, err := added.Apply(reduce)
	if err != nil {
		b.Fatal(err)
	}
	after := &interpreter.Env{State: next, Meta: meta}
	d, err := engine.Decide(p, cur, env, engine.Options{})
	if err != nil {
		b.Fatal(err)
	}

	guards := func() {
		for _, g := range cmd.Require {
			if ok, err := g.Holds(decide); err != nil || !ok {
				b.Fatalf("guard %s: %v %v", g.Name, ok, err)
			}
		}
	}
	emit := func() any {
		var out any
		for _, em := range cmd.Emit {
			ok, err := em.Emits(decide)
			if err != nil || !ok {
				b.Fatalf("emit %s: %v %v", em.Event, ok, err)
			}
			if out, err = em.Payload(decide); err != nil {
				b.Fatal(err)
			}
		}
		return out
	}
	apply := func(event any) any {
		s, err := added.Apply(&interpreter.Env{State: cur.State, Event: event, Meta: meta})
		if err != nil {
			b.Fatal(err)
		}
		return s
	}

	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := value.Decode(addItem, value.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			sink = v
		}
	})
	b.Run("validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if vs := cmd.Validate(payload); len(vs) > 0 {
				b.Fatal(vs)
			}
		}
	})
	b.Run("guards", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			guards()
		}
	})
	b.Run("emit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = emit()
		}
	})
	b.Run("apply", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = apply(event)
		}
	})
	b.Run("invariants", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, inv := range agg.Invariants {
				if ok, err := inv.Holds(after); err != nil || !ok {
					b.Fatalf("invariant %s: %v %v", inv.Name, ok, err)
				}
			}
		}
	})
	b.Run("guards+emit+apply", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			guards()
			sink = apply(emit())
		}
	})
	b.Run("decide", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := engine.Decide(p, cur, env, engine.Options{})
			if err != nil {
				b.Fatal(err)
			}
			sink = d
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := value.Encode(d)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
	})
}

// BenchmarkHandwrittenParts splits the hand-written path the same way.
func BenchmarkHandwrittenParts(b *testing.B) {
	_, x := fixture(b)
	_, cmd := x.envelopes("AddItem", string(addItem), x.hand.Version)
	cmd.Payload = addItem
	hand := x.hand
	d, err := Decide(hand, cmd)
	if err != nil {
		b.Fatal(err)
	}

	b.Run("decode+validate", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p addItemPayload
			if err := decode(addItem, &p); err != nil {
				b.Fatal(err)
			}
			if !skuPattern.MatchString(p.SKU) || !(p.Qty > 0 && p.Qty <= 100) || !(p.Price > 0 && p.Price <= 10000) {
				b.Fatal("invalid")
			}
			sink = p.SKU
		}
	})
	b.Run("decide", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := Decide(hand, cmd)
			if err != nil {
				b.Fatal(err)
			}
			sink = d
		}
	})
	b.Run("encode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := value.Encode(d)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
	})
}
