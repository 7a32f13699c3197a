package engine_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

// candidates are the values a fuzzed payload field may take: valid ones,
// boundary ones and wrong ones, so every rejection path is reached.
var candidates = map[string][]any{
	"customer": {"ada", "bob", ""},
	"sku":      {"TEA-01", "MUG-02", "CHAIR-9", "LAMP-3", "bad", "", 7},
	"qty":      {1, 2, 3, 100, 0, 101, -1, 2.5, "x"},
	"price":    {4.5, 12, 300, 9999.99, 0, -1, 10001},
	"code":     {"WELCOME10", "VIP25", "FREE100", "x", nil},
	"cart":     {"c1", ""},
	"total":    {10, 548.1, 100, 0, -5},
	"amount":   {5, 40, 60, 100, 548.1, 1000, 0},
	"tracking": {"TRACK12345", "short"},
	"reason":   {"changed my mind", ""},
	"colour":   {"red"}, // never declared: an unknown field
}

// fields lists, per command, the payload fields a fuzzed payload draws from.
var fields = map[string][]string{
	"Open": {"customer"}, "AddItem": {"sku", "qty", "price"}, "RemoveItem": {"sku"},
	"ApplyCoupon": {"code"}, "CheckOut": nil, "Abandon": nil,
	"Place": {"cart", "total"}, "Pay": {"amount"}, "Ship": {"tracking"}, "Cancel": {"reason"},
}

type bytes struct {
	data []byte
	i    int
}

func (b *bytes) next(n int) int {
	if b.i >= len(b.data) {
		return 0
	}
	v := int(b.data[b.i]) % n
	b.i++
	return v
}

// FuzzCommands sends random command sequences to one cart and one order:
// the engine never panics, every accepted state keeps the invariants and
// fits #state, rejections are typed, and replaying the accepted events
// gives the live state.
func FuzzCommands(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 1, 1, 1, 0, 0, 4, 0})
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 3, 2, 0, 0, 0, 5, 1, 0, 4, 0, 1, 0})
	f.Add([]byte{1, 0, 0, 0, 1, 1, 0, 2, 1, 1, 0, 4, 1, 3, 0, 0, 1, 1, 0})
	f.Add([]byte("a long random-ish sequence of bytes to start from"))
	p := shop(f)
	f.Fuzz(func(t *testing.T, data []byte) { play(t, p, data) })
}

// TestRandomSequences runs the fuzz property on fixed pseudo-random inputs
// in every `go test`, and checks that the sequences do reach accepted
// commands (a property over rejections only would prove little).
func TestRandomSequences(t *testing.T) {
	p := shop(t)
	rng := rand.New(rand.NewPCG(1, 2))
	accepted, events := 0, 0
	for i := 0; i < 300; i++ {
		data := make([]byte, 40+rng.IntN(200))
		for j := range data {
			data[j] = byte(rng.IntN(256))
		}
		a, e := play(t, p, data)
		accepted += a
		events += e
	}
	if accepted < 300 || events < 300 {
		t.Fatalf("only %d commands accepted, %d events: the generator is too weak", accepted, events)
	}
}

var aggs = []string{"cart", "order"}

func play(t *testing.T, p *interpreter.Program, data []byte) (accepted, events int) {
	in := &bytes{data: data}
	cur := map[string]engine.Current{}
	log := map[string][]engine.Event{}
	for step := 0; step < 40 && in.i < len(data); step++ {
		agg := aggs[in.next(len(aggs))]
		a := p.Aggregates[agg]
		names := sortedNames(a.Commands)
		cmd := names[in.next(len(names))]
		payload := map[string]any{}
		for _, f := range append(fields[cmd], "colour") {
			switch in.next(8) {
			case 0: // omitted
			case 1:
				if f == "colour" || len(fields[cmd]) > 0 {
					payload[f] = candidates[f][in.next(len(candidates[f]))]
				}
			default:
				if f != "colour" {
					payload[f] = candidates[f][in.next(len(candidates[f]))]
				}
			}
		}
		raw, _ := value.Encode(payload)
		e := engine.Envelope{ID: fmt.Sprint("cmd-", step), Aggregate: agg, Instance: agg + "-1", Command: cmd,
			Payload: raw, ExpectedVersion: engine.AnyVersion, Time: clock}
		d, err := engine.Decide(p, cur[agg], e, engine.Options{Strict: true})
		if err != nil {
			var ee *engine.Error
			if !errors.As(err, &ee) {
				t.Fatalf("%s %s: untyped error %T: %v", cmd, raw, err, err)
			}
			switch ee.Kind {
			case engine.KindExpression, engine.KindInvalidState, engine.KindBudget, engine.KindUnknownCommand, engine.KindUnknownAggregate:
				t.Fatalf("%s %s: the example must never fail with %s: %v", cmd, raw, ee.Kind, ee)
			}
			continue
		}
		for _, inv := range a.Invariants {
			ok, err := inv.Holds(&interpreter.Env{State: d.State})
			if err != nil || !ok {
				t.Fatalf("%s %s: invariant %q broken by an accepted command (err %v), state %s", cmd, raw, inv.Name, err, enc(d.State))
			}
		}
		if vs := a.CheckState(d.State); len(vs) > 0 {
			t.Fatalf("%s %s: state does not fit #state: %v", cmd, raw, vs)
		}
		if d.Version != cur[agg].Version+int64(len(d.Events)) {
			t.Fatalf("version %d after %d events on version %d", d.Version, len(d.Events), cur[agg].Version)
		}
		log[agg] = append(log[agg], d.Events...)
		cur[agg] = engine.Current{State: d.State, Version: d.Version}
		replayed, err := engine.Fold(p, agg, agg+"-1", log[agg], engine.Options{Strict: true})
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		if replayed.Version != d.Version || !value.Equal(replayed.State, d.State) {
			t.Fatalf("replay differs:\nlive   %d %s\nreplay %d %s", d.Version, enc(d.State), replayed.Version, enc(replayed.State))
		}
		accepted++
		events += len(d.Events)
	}
	return accepted, events
}

func sortedNames(m map[string]*interpreter.Command) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
