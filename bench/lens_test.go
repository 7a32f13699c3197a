package bench

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

// The lens chains: BenchmarkLensChain reads a payload stored at version 0
// through 1, 5 and 10 lenses, fused (Event.Upcast: one program per stored
// version) and lens by lens (Event.UpcastSteps), against reading a payload
// already current (no lens runs) and the ten steps written by hand in Go.
//
// The chain is one line item's payload growing up over ten versions, each
// lens a change a real context makes: rename a field, add a defaulted or a
// computed field, change a value, drop a field (a field the next version
// does not declare is not carried). Every version has 5 to 6 fields, so a
// lens run on its own copies a map of that size. Chain n is lenses 0..n-1
// of this list, on event Chain<n> whose #payload is version n.
var chainLenses = []struct {
	up   string // the field-wise up lens, CUE
	next string // the fields of the version it gives, CUE
}{
	// 0: rename quantity to qty.
	{`qty: "event.quantity"`, `sku: string, qty: int & >0, unit: number, note: string, at: string`},
	// 1: rename unit to price.
	{`price: "event.unit"`, `sku: string, qty: int & >0, price: number, note: string, at: string`},
	// 2: add a defaulted field.
	{`currency: "'EUR'"`, `sku: string, qty: int & >0, price: number, note: string, at: string, currency: string`},
	// 3: add a computed field; note is dropped.
	{`total: "event.qty * event.price"`, `sku: string, qty: int & >0, price: number, at: string, currency: string, total: number`},
	// 4: change a value.
	{`sku: "upper(event.sku)"`, `sku: string, qty: int & >0, price: number, at: string, currency: string, total: number`},
	// 5: prices in cents; price is dropped.
	{`priceCents: "round(event.price * 100)"`, `sku: string, qty: int & >0, priceCents: number, at: string, currency: string, total: number`},
	// 6: rename at to time.
	{`time: "event.at"`, `sku: string, qty: int & >0, priceCents: number, time: string, currency: string, total: number`},
	// 7: add a computed flag; currency is dropped.
	{`gift: "event.total == 0"`, `sku: string, qty: int & >0, priceCents: number, time: string, total: number, gift: bool`},
	// 8: rename total to net and add a defaulted discount; gift is dropped.
	{`net: "event.total", discount: "0"`, `sku: string, qty: int & >0, priceCents: number, time: string, net: number, discount: number`},
	// 9: change a value from two fields.
	{`net: "event.net - event.discount"`, `sku: string, qty: int & >0, priceCents: number, time: string, net: number, discount: number`},
}

// chainV0 is version 0 of the chain's payload: 5 fields.
const chainV0 = `sku: string, quantity: int & >0, unit: number, note: string, at: string`

// storedV0 is a payload as version 0 wrote it.
var storedV0 = []byte(`{"sku":"tea-01","quantity":3,"unit":4.5,"note":"gift wrap, please","at":"2024-03-01T09:30:00Z"}`)

// chainLengths are the chains measured.
var chainLengths = []int{1, 5, 10}

// chainSource is a context whose cart has one event per chain length.
func chainSource(lengths []int) string {
	var b strings.Builder
	b.WriteString(`package chains

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "chains"
	aggregates: cart: {
		#state: {n: int}
		initial: {n: 0}
		commands: Add: {
			instance: "any"
			emit: [{event: "Chain1", payload: {sku: "'TEA-01'", qty: "1", unit: "4.5", note: "''", at: "''"}}]
		}
		events: {
`)
	for _, n := range lengths {
		fmt.Fprintf(&b, "\t\t\tChain%d: {\n", n)
		fmt.Fprintf(&b, "\t\t\t\t#payload: {%s}\n", chainLenses[n-1].next)
		b.WriteString("\t\t\t\tlenses: [")
		for i := 0; i < n; i++ {
			from := chainV0
			if i > 0 {
				from = chainLenses[i-1].next
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{\n\t\t\t\t\t#from: {%s}\n\t\t\t\t\tup: {%s}\n\t\t\t\t}", from, chainLenses[i].up)
		}
		b.WriteString("]\n")
		b.WriteString("\t\t\t\tapply: n: \"state.n + event.qty\"\n")
		b.WriteString("\t\t\t}\n")
	}
	// Direct10 reads version 0 as version 10 in one lens written by hand:
	// the work version 10 needs, with no chain.
	fmt.Fprintf(&b, "\t\t\tDirect10: {\n\t\t\t\t#payload: {%s}\n", chainLenses[9].next)
	fmt.Fprintf(&b, "\t\t\t\tlenses: [{\n\t\t\t\t\t#from: {%s}\n\t\t\t\t\tup: {%s}\n\t\t\t\t}]\n", chainV0, direct10)
	b.WriteString("\t\t\t\tapply: n: \"state.n + event.qty\"\n\t\t\t}\n")
	// Renames<n>: n lenses that each rename one field (name0 -> name1 ->
	// ...): chains that differ in length only.
	for _, n := range lengths {
		fmt.Fprintf(&b, "\t\t\tRenames%d: {\n\t\t\t\t#payload: {%s}\n\t\t\t\tlenses: [", n, renamed(n))
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{#from: {%s}, up: name%d: \"event.name%d\"}", renamed(i), i+1, i)
		}
		b.WriteString("]\n\t\t\t}\n")
	}
	b.WriteString("\t\t}\n\t}\n}\n")
	return b.String()
}

// renamed is version i of the Renames chains: 5 fields, one of them
// named name<i>.
func renamed(i int) string {
	return fmt.Sprintf("sku: string, qty: int & >0, unit: number, at: string, name%d: string", i)
}

// storedRenames is a payload as version 0 of the Renames chains wrote it.
var storedRenames = []byte(`{"sku":"tea-01","qty":3,"unit":4.5,"at":"2024-03-01T09:30:00Z","name0":"Tea"}`)

// direct10 is the ten lenses as one, as a person would write it.
const direct10 = `sku: "upper(event.sku)", qty: "event.quantity", priceCents: "round(event.unit * 100)", time: "event.at", net: "event.quantity * event.unit", discount: "0"`

// compileChains compiles chainSource from a temporary directory, outside
// any CUE module: the compiler overlays the schema module there.
func compileChains(tb testing.TB) *interpreter.Program {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "chains.cue")
	if err := os.WriteFile(path, []byte(chainSource(chainLengths)), 0o644); err != nil {
		tb.Fatal(err)
	}
	m, err := compiler.Compile(path)
	if err != nil {
		tb.Fatalf("compile the chains: %v\n%s", err, chainSource(chainLengths))
	}
	p, err := interpreter.Compile(m)
	if err != nil {
		tb.Fatalf("interpret the chains: %v", err)
	}
	return p
}

// handChain is the ten lenses written by hand on the JSON model, fused by
// hand into one new map: the floor of what reading a version-0 payload
// at version 10 can cost with map[string]any payloads. Number kinds
// follow expr's: int*float is a float, round gives a float.
func handChain(in map[string]any) map[string]any {
	out := make(map[string]any, 6)
	if v, ok := in["sku"]; ok {
		s, _ := v.(string)
		out["sku"] = strings.ToUpper(s)
	}
	qty := in["quantity"]
	out["qty"] = qty
	unit := in["unit"]
	out["priceCents"] = math.Round(toFloat64(unit) * 100)
	out["time"] = in["at"]
	var total any
	qi, qInt := qty.(int)
	ui, uInt := unit.(int)
	if qInt && uInt {
		total = qi * ui
	} else {
		total = toFloat64(qty) * toFloat64(unit)
	}
	out["discount"] = 0
	out["net"] = total // minus a discount of 0
	return out
}

func toFloat64(v any) float64 {
	switch n := v.(type) {
	case int:
		return float64(n)
	case float64:
		return n
	}
	return math.NaN()
}

// TestLensChainsAgree requires the fused chains, the sequential chains and
// the hand-written chain to read the stored payload alike.
func TestLensChainsAgree(t *testing.T) {
	checkChains(t, compileChains(t))
}

func checkChains(tb testing.TB, p *interpreter.Program) {
	tb.Helper()
	for _, n := range chainLengths {
		e := p.Aggregates["cart"].Events[fmt.Sprintf("Chain%d", n)]
		if e.Version() != n {
			tb.Fatalf("Chain%d is at version %d", n, e.Version())
		}
		in := value.MustDecode(storedV0)
		fused, err := e.Upcast(0, in)
		if err != nil {
			tb.Fatalf("Chain%d fused: %v", n, err)
		}
		seq, err := e.UpcastSteps(0, in)
		if err != nil {
			tb.Fatalf("Chain%d sequential: %v", n, err)
		}
		if !value.Equal(fused, seq) {
			tb.Fatalf("Chain%d: fused %s, sequential %s", n, encode(tb, fused), encode(tb, seq))
		}
		if !value.Equal(in, value.MustDecode(storedV0)) {
			tb.Fatalf("Chain%d changed the stored payload: %s", n, encode(tb, in))
		}
		if vs := e.Validate(fused); len(vs) > 0 {
			tb.Fatalf("Chain%d: %s does not fit version %d: %v", n, encode(tb, fused), n, vs)
		}
		ren := p.Aggregates["cart"].Events[fmt.Sprintf("Renames%d", n)]
		if got, err := ren.Upcast(0, value.MustDecode(storedRenames)); err != nil || len(ren.Validate(got)) > 0 {
			tb.Fatalf("Renames%d: %s (%v)", n, encode(tb, got), err)
		}
		if n == 10 {
			if hand := handChain(in.(map[string]any)); !value.Equal(fused, hand) {
				tb.Fatalf("Chain10: fused %s, hand-written %s", encode(tb, fused), encode(tb, hand))
			}
			direct, err := p.Aggregates["cart"].Events["Direct10"].Upcast(0, in)
			if err != nil || !value.Equal(fused, direct) {
				tb.Fatalf("Chain10: fused %s, the one lens %s (%v)", encode(tb, fused), encode(tb, direct), err)
			}
		}
	}
}

// BenchmarkLensChain: one op is one stored payload read at the current
// version, from the decoded payload (value.Decode is the same for every
// case; BenchmarkLensChain/decode times it).
func BenchmarkLensChain(b *testing.B) {
	p := compileChains(b)
	checkChains(b, p) // or the comparison is void
	in := value.MustDecode(storedV0)
	events := func(b *testing.B) {
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}

	b.Run("decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, err := value.Decode(storedV0, value.Limits{MaxBytes: 1 << 30, MaxDepth: 1 << 10})
			if err != nil {
				b.Fatal(err)
			}
			sink = v
		}
		events(b)
	})
	current := p.Aggregates["cart"].Events["Chain10"]
	now, err := current.Upcast(0, in)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("current", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := current.Upcast(10, now)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
		events(b)
	})
	for _, n := range chainLengths {
		e := p.Aggregates["cart"].Events[fmt.Sprintf("Chain%d", n)]
		b.Run(fmt.Sprintf("lenses=%d/fused", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := e.Upcast(0, in)
				if err != nil {
					b.Fatal(err)
				}
				sink = out
			}
			events(b)
		})
		b.Run(fmt.Sprintf("lenses=%d/sequential", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := e.UpcastSteps(0, in)
				if err != nil {
					b.Fatal(err)
				}
				sink = out
			}
			events(b)
		})
	}
	renames := value.MustDecode(storedRenames)
	for _, n := range chainLengths {
		e := p.Aggregates["cart"].Events[fmt.Sprintf("Renames%d", n)]
		b.Run(fmt.Sprintf("renames=%d/fused", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				out, err := e.Upcast(0, renames)
				if err != nil {
					b.Fatal(err)
				}
				sink = out
			}
			events(b)
		})
	}
	direct := p.Aggregates["cart"].Events["Direct10"]
	b.Run("lenses=10/as-one-lens", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			out, err := direct.Upcast(0, in)
			if err != nil {
				b.Fatal(err)
			}
			sink = out
		}
		events(b)
	})
	m := in.(map[string]any)
	b.Run("lenses=10/handwritten", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sink = handChain(m)
		}
		events(b)
	})
}
