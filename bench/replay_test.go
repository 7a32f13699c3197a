package bench

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

// Replay: BenchmarkReplay rebuilds the example's carts from a stored log
// as api.Compare does, one event per op: value.Decode of the stored
// payload, Program.ReadEvent (the current name, the lenses from the stored
// version) and engine.Evolve (the reducer). The log (replayLog) mixes
// carts of three eras, each writing ItemAdded at the version of its time
// (0: {sku, quantity}, 1: {sku, qty}, 2: {sku, qty, price}) and the
// oldest calling CartAbandoned by its former name CartDropped; so about a
// third of the events go through one or two lenses. "current" is the same
// log with every event rewritten at its current name and version (through
// Program.ReadJSON), where the lenses cost nothing; "handwritten" is the
// same replay with the hand-written cart (decider.go's Apply) on typed
// structs decoded by encoding/json, the older ItemAdded versions converted
// by hand.

// stored is an event as the store holds it.
type stored struct {
	instance string
	id       string
	typ      string
	version  int   // the payload's schema version
	seq      int64 // the instance's version once applied
	at       time.Time
	payload  []byte
	first    bool // the instance's first event: replay starts from scratch
}

var catalog = []struct {
	sku   string
	price float64
}{
	{"TEA-01", 4.5}, {"MUG-02", 12}, {"SPOON-3", 2.25}, {"PLATE-44", 9.9},
	{"KETTLE-5", 39}, {"CHAIR-9", 300}, {"LAMP-12", 75.5}, {"RUG-7", 180},
}

// replayLog makes the stored events of carts carts, as the example's
// commands would have written them, in instance order.
func replayLog(carts int) []stored {
	rng := rand.New(rand.NewPCG(2026, 11))
	at := time.Date(2024, 1, 1, 8, 0, 0, 0, time.UTC)
	var log []stored
	for c := range carts {
		era := 2 // the version ItemAdded is written at
		switch r := rng.IntN(10); {
		case r < 3:
			era = 0
		case r < 6:
			era = 1
		}
		inst := fmt.Sprintf("cart-%04d", c)
		state := InitialCart()
		var seq int64
		add := func(typ string, version int, payload any, typed any) {
			raw, err := json.Marshal(payload)
			if err != nil {
				panic(err)
			}
			seq++
			at = at.Add(time.Duration(1+rng.IntN(600)) * time.Second)
			log = append(log, stored{instance: inst, id: fmt.Sprintf("%s-%d", inst, seq), typ: typ,
				version: version, seq: seq, at: at, payload: raw, first: seq == 1})
			state = Apply(state, typed)
		}
		open := CartOpened{Customer: fmt.Sprintf("cust-%d", rng.IntN(500))}
		add("CartOpened", 0, open, open)
		for range 2 + rng.IntN(7) {
			it := catalog[rng.IntN(len(catalog))]
			qty := 1 + rng.IntN(4)
			switch era {
			case 0:
				add("ItemAdded", 0, map[string]any{"sku": it.sku, "quantity": qty}, ItemAdded{SKU: it.sku, Qty: qty})
			case 1:
				add("ItemAdded", 1, map[string]any{"sku": it.sku, "qty": qty}, ItemAdded{SKU: it.sku, Qty: qty})
			default:
				e := ItemAdded{SKU: it.sku, Qty: qty, Price: it.price}
				add("ItemAdded", 2, e, e)
			}
		}
		if rng.IntN(10) < 3 {
			skus := slices.Sorted(maps.Keys(state.Items))
			sku := skus[rng.IntN(len(skus))]
			l := state.Items[sku]
			e := ItemRemoved{SKU: sku, Qty: l.Qty, Price: l.Price}
			add("ItemRemoved", 0, e, e)
		}
		if rng.IntN(10) < 3 {
			switch rng.IntN(3) {
			case 0:
				e := CouponApplied{Code: "WELCOME10", Percent: 10}
				add("CouponApplied", 0, e, e)
			case 1:
				e := CouponApplied{Code: "VIP25", Percent: 25}
				add("CouponApplied", 0, e, e)
			default:
				e := CouponRejected{Code: "FREE100"}
				add("CouponRejected", 0, e, e)
			}
		}
		switch r := rng.IntN(20); {
		case r < 12 && len(state.Items) > 0:
			due := state.Total - state.Discount
			e := CheckedOut{Total: due, Lines: len(state.Items)}
			add("CheckedOut", 0, e, e)
			if due > 500 {
				g := GiftAdded{SKU: giftSKU}
				add("GiftAdded", 0, g, g)
			}
		case r < 17:
			name := "CartAbandoned"
			if era == 0 {
				name = "CartDropped"
			}
			add(name, 0, struct{}{}, CartAbandoned{})
		}
	}
	return log
}

// currentLog rewrites a log at the current names and versions.
func currentLog(tb testing.TB, p *interpreter.Program, log []stored) []stored {
	tb.Helper()
	out := make([]stored, len(log))
	for i, e := range log {
		typ, v, raw, err := p.ReadJSON("cart", e.typ, e.version, e.payload)
		if err != nil {
			tb.Fatalf("%s: %v", e.id, err)
		}
		e.typ, e.version, e.payload = typ, v, raw
		out[i] = e
	}
	return out
}

// storedLimits are api.Compare's.
var storedLimits = value.Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 10}

// replayEngine replays one event on state through the engine.
func replayEngine(p *interpreter.Program, state any, e *stored) (any, error) {
	if e.first {
		state = nil
	}
	pl, err := value.Decode(e.payload, storedLimits)
	if err != nil {
		return nil, err
	}
	typ, pl, err := p.ReadEvent("cart", e.typ, e.version, pl)
	if err != nil {
		return nil, err
	}
	return engine.Evolve(p, "cart", e.instance, state, engine.Event{ID: e.id, Type: typ, Version: e.seq, Time: e.at, Payload: pl}, engine.Options{})
}

// replayHand replays one event on state with the hand-written cart.
func replayHand(state CartState, e *stored) (CartState, error) {
	if e.first {
		state = InitialCart()
	}
	var err error
	var payload any
	switch e.typ {
	case "CartOpened":
		var x CartOpened
		err = json.Unmarshal(e.payload, &x)
		payload = x
	case "ItemAdded":
		switch e.version {
		case 0:
			var x struct {
				SKU      string `json:"sku"`
				Quantity int    `json:"quantity"`
			}
			err = json.Unmarshal(e.payload, &x)
			payload = ItemAdded{SKU: x.SKU, Qty: x.Quantity}
		case 1:
			var x struct {
				SKU string `json:"sku"`
				Qty int    `json:"qty"`
			}
			err = json.Unmarshal(e.payload, &x)
			payload = ItemAdded{SKU: x.SKU, Qty: x.Qty}
		default:
			var x ItemAdded
			err = json.Unmarshal(e.payload, &x)
			payload = x
		}
	case "ItemRemoved":
		var x ItemRemoved
		err = json.Unmarshal(e.payload, &x)
		payload = x
	case "CouponApplied":
		var x CouponApplied
		err = json.Unmarshal(e.payload, &x)
		payload = x
	case "CouponRejected":
		var x CouponRejected
		err = json.Unmarshal(e.payload, &x)
		payload = x
	case "CheckedOut":
		var x CheckedOut
		err = json.Unmarshal(e.payload, &x)
		payload = x
	case "GiftAdded":
		var x GiftAdded
		err = json.Unmarshal(e.payload, &x)
		payload = x
	case "CartAbandoned", "CartDropped":
		payload = CartAbandoned{}
	default:
		return state, fmt.Errorf("unknown event %s", e.typ)
	}
	if err != nil {
		return state, err
	}
	return Apply(state, payload), nil
}

const replayCarts = 300

// TestReplayAgrees replays the log through the engine (stored and current)
// and by hand, and requires the same state at the end of every cart.
func TestReplayAgrees(t *testing.T) {
	p := compile(t)
	log := replayLog(replayCarts)
	upcast, renamed := checkReplay(t, p, log, currentLog(t, p, log))
	t.Logf("%d events of %d carts: %d read through lenses, %d under a former name", len(log), replayCarts, upcast, renamed)
}

// checkReplay requires the replays of the stored log, of the current log
// and by hand to give the same state at the end of every cart. It
// returns how many events were stored at an older version or name.
func checkReplay(tb testing.TB, p *interpreter.Program, log, cur []stored) (upcast, renamed int) {
	tb.Helper()
	for i := range log {
		if log[i].version != cur[i].version {
			upcast++
		}
		if log[i].typ != cur[i].typ {
			renamed++
		}
	}
	if upcast == 0 || renamed == 0 {
		tb.Fatalf("the log needs lenses and aliases: %d upcast, %d renamed", upcast, renamed)
	}

	var s1, s2 any
	var h CartState
	var err error
	for i := range log {
		if s1, err = replayEngine(p, s1, &log[i]); err != nil {
			tb.Fatalf("stored %s: %v", log[i].id, err)
		}
		if s2, err = replayEngine(p, s2, &cur[i]); err != nil {
			tb.Fatalf("current %s: %v", cur[i].id, err)
		}
		if h, err = replayHand(h, &log[i]); err != nil {
			tb.Fatalf("hand-written %s: %v", log[i].id, err)
		}
		if i+1 == len(log) || log[i+1].first {
			if !value.Equal(s1, s2) {
				tb.Fatalf("%s: stored %s, current %s", log[i].instance, encode(tb, s1), encode(tb, s2))
			}
			if !value.Equal(s1, asJSON(tb, h)) {
				tb.Fatalf("%s: engine %s, hand-written %s", log[i].instance, encode(tb, s1), encode(tb, h))
			}
		}
	}
	return upcast, renamed
}

// BenchmarkReplay: one op is one stored event replayed (decode, read,
// evolve), cycling over the log; an instance's first event starts it from
// the initial state.
func BenchmarkReplay(b *testing.B) {
	p := compile(b)
	log := replayLog(replayCarts)
	cur := currentLog(b, p, log)
	checkReplay(b, p, log, cur) // or the comparison is void
	events := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	engineRun := func(log []stored) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			var state any
			var err error
			i := 0
			for b.Loop() {
				if state, err = replayEngine(p, state, &log[i]); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(log) {
					i = 0
				}
			}
			sink = state
			events(b)
		}
	}
	handRun := func(log []stored) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			var state CartState
			var err error
			i := 0
			for b.Loop() {
				if state, err = replayHand(state, &log[i]); err != nil {
					b.Fatal(err)
				}
				if i++; i == len(log) {
					i = 0
				}
			}
			sink = state
			events(b)
		}
	}
	b.Run("interpreted/stored", engineRun(log))
	b.Run("interpreted/current", engineRun(cur))
	b.Run("handwritten/stored", handRun(log))
	b.Run("handwritten/current", handRun(cur))
}

// BenchmarkReplayParts splits interpreted/stored into its steps, each over
// the whole log, one op per event: decode, read (ReadEvent on the decoded
// payloads) and evolve (Evolve on the read payloads).
func BenchmarkReplayParts(b *testing.B) {
	p := compile(b)
	log := replayLog(replayCarts)
	decoded := make([]any, len(log))
	read := make([]engine.Event, len(log))
	for i, e := range log {
		pl, err := value.Decode(e.payload, storedLimits)
		if err != nil {
			b.Fatal(err)
		}
		decoded[i] = pl
		typ, out, err := p.ReadEvent("cart", e.typ, e.version, pl)
		if err != nil {
			b.Fatal(err)
		}
		read[i] = engine.Event{ID: e.id, Type: typ, Version: e.seq, Time: e.at, Payload: out}
	}
	events := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			v, err := value.Decode(log[i].payload, storedLimits)
			if err != nil {
				b.Fatal(err)
			}
			sink = v
			if i++; i == len(log) {
				i = 0
			}
		}
		events(b)
	})
	b.Run("read", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, out, err := p.ReadEvent("cart", log[i].typ, log[i].version, decoded[i])
			if err != nil {
				b.Fatal(err)
			}
			sink = out
			if i++; i == len(log) {
				i = 0
			}
		}
		events(b)
	})
	b.Run("evolve", func(b *testing.B) {
		b.ReportAllocs()
		var state any
		var err error
		i := 0
		for b.Loop() {
			if log[i].first {
				state = nil
			}
			if state, err = engine.Evolve(p, "cart", log[i].instance, state, read[i], engine.Options{}); err != nil {
				b.Fatal(err)
			}
			if i++; i == len(log) {
				i = 0
			}
		}
		sink = state
		events(b)
	})
}
