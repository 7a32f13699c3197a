package engine_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/value"
)

var (
	exampleOnce sync.Once
	example     *interpreter.Program
)

func shop(t testing.TB) *interpreter.Program {
	t.Helper()
	exampleOnce.Do(func() {
		m, err := compiler.Compile("../contexts/example.cue")
		if err != nil {
			panic(err)
		}
		if example, err = interpreter.Compile(m); err != nil {
			panic(err)
		}
	})
	return example
}

// compile compiles a small context written inline.
func compile(t *testing.T, src string) *interpreter.Program {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ctx.cue")
	require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
	m, err := compiler.Compile(path)
	require.NoError(t, err)
	p, err := interpreter.Compile(m)
	require.NoError(t, err)
	return p
}

var clock = time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)

func env(agg, id, cmd, payload string) engine.Envelope {
	return engine.Envelope{ID: "c1", Aggregate: agg, Instance: id, Command: cmd, Payload: json.RawMessage(payload), ExpectedVersion: engine.AnyVersion, Time: clock}
}

// given folds events (type, payload JSON) into a current state.
func given(t *testing.T, p *interpreter.Program, agg string, evs ...string) engine.Current {
	t.Helper()
	var events []engine.Event
	for i := 0; i < len(evs); i += 2 {
		events = append(events, engine.Event{ID: fmt.Sprint("g", i), Type: evs[i], Version: int64(i/2 + 1), Time: clock, Payload: value.MustDecode([]byte(evs[i+1]))})
	}
	cur, err := engine.Fold(p, agg, "x", events, engine.Options{Strict: true})
	require.NoError(t, err)
	return cur
}

func openCart(t *testing.T, p *interpreter.Program, items ...string) engine.Current {
	evs := []string{"CartOpened", `{"customer":"ada"}`}
	for _, it := range items {
		evs = append(evs, "ItemAdded", it)
	}
	return given(t, p, "cart", evs...)
}

func TestDecide(t *testing.T) {
	p := shop(t)
	open := openCart(t, p)
	withTea := openCart(t, p, `{"sku":"TEA-01","qty":2,"price":4.5}`)
	tests := []struct {
		name    string
		cur     engine.Current
		env     engine.Envelope
		events  string // JSON of [{type, payload}]
		state   string // JSON subset
		version int64
		err     string // kind[:name]
	}{
		{name: "open creates", env: env("cart", "x", "Open", `{"customer":"ada"}`),
			events: `[{"type":"CartOpened","payload":{"customer":"ada"}}]`, state: `{"status":"open","customer":"ada"}`, version: 1},
		{name: "add item", cur: open, env: env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`),
			events: `[{"type":"ItemAdded","payload":{"sku":"TEA-01","qty":2,"price":4.5}}]`, state: `{"total":9,"items":{"TEA-01":{"qty":2,"price":4.5}}}`, version: 2},
		{name: "field-wise reducer keeps unnamed fields", cur: withTea, env: env("cart", "x", "AddItem", `{"sku":"MUG-02","qty":1,"price":10}`),
			state: `{"status":"open","customer":"ada","discount":0,"total":19}`, version: 3},
		{name: "conditional emit: known coupon", cur: withTea, env: env("cart", "x", "ApplyCoupon", `{"code":"VIP25"}`),
			events: `[{"type":"CouponApplied","payload":{"code":"VIP25","percent":25}}]`, state: `{"discount":2.25}`, version: 3},
		{name: "conditional emit: unknown coupon", cur: withTea, env: env("cart", "x", "ApplyCoupon", `{"code":"NOPE1"}`),
			events: `[{"type":"CouponRejected","payload":{"code":"NOPE1"}}]`, state: `{"discount":0}`, version: 3},
		{name: "no payload means {}", cur: withTea, env: env("cart", "x", "CheckOut", ``),
			events: `[{"type":"CheckedOut","payload":{"total":9,"lines":1}}]`, state: `{"status":"checkedOut"}`, version: 3},
		{name: "unknown aggregate", env: env("basket", "x", "Open", `{}`), err: "unknown_aggregate"},
		{name: "unknown command", env: env("cart", "x", "Explode", `{}`), err: "unknown_command"},
		{name: "instance missing", env: env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":1,"price":1}`), err: "instance_missing"},
		{name: "instance exists", cur: open, env: env("cart", "x", "Open", `{"customer":"bob"}`), err: "instance_exists"},
		{name: "first failing guard names the rejection", cur: given(t, p, "cart", "CartOpened", `{"customer":"a"}`, "CartAbandoned", `{}`),
			env: env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":1,"price":1}`), err: "guard:cart is not open"},
		{name: "second guard", cur: withTea, env: env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":1,"price":5}`), err: "guard:price changed for sku"},
		{name: "invariant", cur: given(t, p, "cart", "CartOpened", `{"customer":"a"}`, "ItemAdded", `{"sku":"MUG-02","qty":2,"price":50}`, "ItemAdded", `{"sku":"TEA-01","qty":1,"price":5}`, "CouponApplied", `{"code":"VIP25","percent":25}`),
			env: env("cart", "x", "RemoveItem", `{"sku":"MUG-02"}`), err: "invariant:discount never exceeds the total"},
		{name: "stale expected version", cur: open, env: func() engine.Envelope {
			e := env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":1,"price":1}`)
			e.ExpectedVersion = 7
			return e
		}(), err: "version_conflict"},
		{name: "invalid JSON", cur: open, env: env("cart", "x", "AddItem", `{"sku":`), err: "invalid_json"},
		{name: "trailing data", cur: open, env: env("cart", "x", "AddItem", `{} {}`), err: "invalid_json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := engine.Decide(p, tt.cur, tt.env, engine.Options{Strict: true})
			if tt.err != "" {
				require.Error(t, err)
				var ee *engine.Error
				require.True(t, errors.As(err, &ee), "%T", err)
				kind, name, _ := strings.Cut(tt.err, ":")
				assert.Equal(t, kind, string(ee.Kind), ee.Message)
				assert.Equal(t, name, ee.Name)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.version, d.Version)
			if tt.events != "" {
				var got []map[string]any
				for _, e := range d.Events {
					got = append(got, map[string]any{"type": e.Type, "payload": e.Payload})
				}
				assert.True(t, value.Equal(value.MustDecode([]byte(tt.events)), normalize(got)), "events: %s", enc(got))
			}
			want := value.MustDecode([]byte(tt.state)).(map[string]any)
			st := d.State.(map[string]any)
			for k, v := range want {
				assert.True(t, value.Equal(v, st[k]), "state.%s: want %s, got %s", k, enc(v), enc(st[k]))
			}
		})
	}
}

func normalize(v any) any {
	return value.MustDecode([]byte(enc(v)))
}

func enc(v any) string {
	b, _ := value.Encode(v)
	return string(b)
}

func TestEventsCarryEnvelopeIDsAndTime(t *testing.T) {
	p := shop(t)
	e := env("order", "o1", "Place", `{"cart":"c1","total":10}`)
	e.ID = "cmd-42"
	d, err := engine.Decide(p, engine.Current{}, e, engine.Options{})
	require.NoError(t, err)
	require.Len(t, d.Events, 1)
	assert.Equal(t, "cmd-42-1", d.Events[0].ID)
	assert.Equal(t, clock, d.Events[0].Time)
	assert.Equal(t, int64(1), d.Events[0].Version)
}

func TestSchemaViolationsListEveryOne(t *testing.T) {
	p := shop(t)
	_, err := engine.Decide(p, openCart(t, p), env("cart", "x", "AddItem", `{"sku":"tea","qty":0,"price":-1,"colour":"red"}`), engine.Options{})
	var ee *engine.Error
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, engine.KindSchema, ee.Kind)
	pointers := map[string]string{}
	for _, v := range ee.Violations {
		pointers[v.Pointer] = v.Message
	}
	for _, ptr := range []string{"/sku", "/qty", "/price"} {
		assert.Contains(t, pointers, ptr, "violations: %v", ee.Violations)
	}
	assert.Contains(t, fmt.Sprint(ee.Violations), "colour", "the unknown field is named")
}

func TestPayloadLimits(t *testing.T) {
	p := shop(t)
	cur := openCart(t, p)
	deep := strings.Repeat(`{"a":`, 65) + "1" + strings.Repeat("}", 65)
	big := `{"sku":"` + strings.Repeat("A", 1<<20) + `","qty":1,"price":1}`
	for _, tt := range []struct {
		name, payload string
		kind          engine.Kind
	}{
		{"nested deeper than 64", deep, engine.KindTooDeep},
		{"over 1 MiB", big, engine.KindTooLarge},
		{"integer beyond 2^53", `{"sku":"TEA-01","qty":9007199254740993,"price":1}`, engine.KindSchema},
		{"negative integer beyond 2^53", `{"sku":"TEA-01","qty":1,"price":-9007199254740993}`, engine.KindSchema},
		{"an int a float rounds to 1", `{"sku":"TEA-01","qty":1.0000000000000000001,"price":1}`, engine.KindSchema},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := engine.Decide(p, cur, env("cart", "x", "AddItem", tt.payload), engine.Options{})
			var ee *engine.Error
			require.ErrorAs(t, err, &ee)
			assert.Equal(t, tt.kind, ee.Kind, ee.Error())
		})
	}
	t.Run("number error names the field", func(t *testing.T) {
		_, err := engine.Decide(p, cur, env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":9007199254740993,"price":1}`), engine.Options{})
		var ee *engine.Error
		require.ErrorAs(t, err, &ee)
		require.Len(t, ee.Violations, 1)
		assert.Equal(t, "/qty", ee.Violations[0].Pointer)
		assert.Contains(t, ee.Violations[0].Message, "9007199254740993")
	})
	t.Run("2^53-1 is exact", func(t *testing.T) {
		v, err := value.Decode([]byte(`{"n":9007199254740991}`), value.Limits{})
		require.NoError(t, err)
		b, _ := value.Encode(v)
		assert.Equal(t, `{"n":9007199254740991}`, string(b))
	})
	t.Run("64 levels are accepted", func(t *testing.T) {
		ok := strings.Repeat(`[`, 64) + strings.Repeat("]", 64)
		_, err := value.Decode([]byte(ok), value.Limits{})
		require.NoError(t, err)
	})
}

func TestDecideDoesNotMutateCurrentState(t *testing.T) {
	p := shop(t)
	cur := openCart(t, p, `{"sku":"TEA-01","qty":2,"price":4.5}`)
	before := enc(cur.State)
	_, err := engine.Decide(p, cur, env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":1,"price":4.5}`), engine.Options{})
	require.NoError(t, err)
	_, err = engine.Decide(p, cur, env("cart", "x", "RemoveItem", `{"sku":"TEA-01"}`), engine.Options{})
	require.NoError(t, err)
	assert.Equal(t, before, enc(cur.State))
}

func TestDecideIsDeterministic(t *testing.T) {
	p := shop(t)
	cur := openCart(t, p, `{"sku":"TEA-01","qty":2,"price":4.5}`)
	e := env("cart", "x", "CheckOut", `{}`)
	first, err := engine.Decide(p, cur, e, engine.Options{})
	require.NoError(t, err)
	for i := 0; i < 20; i++ {
		again, err := engine.Decide(p, cur, e, engine.Options{})
		require.NoError(t, err)
		assert.Equal(t, enc(first), enc(again))
	}
}

// The program is shared by every goroutine of a runtime; run with -race.
func TestConcurrentUse(t *testing.T) {
	p := shop(t)
	cur := openCart(t, p, `{"sku":"TEA-01","qty":2,"price":4.5}`)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				d, err := engine.Decide(p, cur, env("cart", "x", "AddItem", `{"sku":"MUG-02","qty":1,"price":3}`), engine.Options{Strict: true})
				if assert.NoError(t, err) {
					assert.EqualValues(t, 12, d.State.(map[string]any)["total"])
				}
			}
		}()
	}
	wg.Wait()
}

const tiny = `
package tiny

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "tiny"
	aggregates: box: {
		#state: {n: int, label: string}
		initial: {n: 0, label: ""}
		commands: {
			Hog: {
				instance: "any"
				require: "small": "len(map(1..1000000, # * 2)) > 0"
				emit: [{event: "Bumped"}]
			}
			Fetch: {
				instance: "any"
				#payload: key: string
				emit: [{event: "Bumped", if: "{a: 1}[cmd.key] + 1 > 0"}]
			}
			Bump: {
				instance: "any"
				#payload: label: string
				emit: [{event: "Bumped", payload: label: "cmd.label"}]
			}
			Stamp: {
				instance: "any"
				emit: [{event: "Stamped", payload: at: "string(now())"}]
			}
		}
		events: {
			Bumped: {
				#payload: label?: string
				apply: {n: "state.n + 1", label: "event.label ?? 'unset'"}
			}
			Stamped: {
				#payload: at: string
				apply: label: "event.at"
			}
			Seen: apply: label: "meta.timestamp + ' ' + string(now())"
			Broken: apply: {n: "state.n + 1", label: "string(state.n % (state.n - state.n))"}
		}
		invariants: "label is short": "len(state.label) < 40"
	}
}
`

func TestBudgetsAndFailures(t *testing.T) {
	p := compile(t, tiny)
	kind := func(err error) engine.Kind {
		var ee *engine.Error
		require.ErrorAs(t, err, &ee)
		return ee.Kind
	}
	_, err := engine.Decide(p, engine.Current{}, env("box", "b", "Hog", `{}`), engine.Options{})
	assert.Equal(t, engine.KindBudget, kind(err), "%v", err)

	_, err = engine.Decide(p, engine.Current{}, env("box", "b", "Fetch", `{"key":"zzz"}`), engine.Options{})
	assert.Equal(t, engine.KindExpression, kind(err), "%v", err)
	var ee *engine.Error
	require.ErrorAs(t, err, &ee)
	require.NotNil(t, ee.Pos)
	assert.Contains(t, ee.Pos.File, "ctx.cue")
	assert.Positive(t, ee.Pos.Line)

	_, err = engine.Decide(p, engine.Current{}, env("box", "b", "Bump", `{"label":"far too long a label, longer than forty characters"}`), engine.Options{})
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, engine.KindInvariant, ee.Kind)
	assert.Equal(t, "label is short", ee.Name)

	d, err := engine.Decide(p, engine.Current{}, env("box", "b", "Stamp", `{}`), engine.Options{})
	require.NoError(t, err)
	assert.Equal(t, "2026-03-01 09:30:00 +0000 UTC", d.Events[0].Payload.(map[string]any)["at"], "now() is the envelope's time")

	// A reducer reading meta or now() sees the event's time.
	at := time.Date(2026, 4, 5, 6, 7, 8, 0, time.UTC)
	st, err := engine.Evolve(p, "box", "b", nil, engine.Event{ID: "e-1", Type: "Seen", Version: 1, Time: at, Payload: map[string]any{}}, engine.Options{})
	require.NoError(t, err)
	assert.Equal(t, "2026-04-05T06:07:08Z 2026-04-05 06:07:08 +0000 UTC", st.(map[string]any)["label"])

	// Field-wise expressions run as one program; a failure still names the
	// field that failed.
	_, err = engine.Evolve(p, "box", "b", nil, engine.Event{ID: "e-2", Type: "Broken", Version: 1, Time: at, Payload: map[string]any{}}, engine.Options{})
	require.ErrorAs(t, err, &ee)
	assert.Contains(t, ee.Pos.Path, "events.Broken.apply.label")
}

func TestStrictChecksState(t *testing.T) {
	p := compile(t, `
package s

import "github.com/cuesource/cuesource/schema"

schema.#Context & {
	name: "s"
	aggregates: light: {
		#state: {colour: "red" | "green"}
		initial: colour: "red"
		commands: Paint: {
			instance: "any"
			emit: [{event: "Painted"}]
		}
		events: Painted: apply: colour: "'blue'"
	}
}
`)
	_, err := engine.Decide(p, engine.Current{}, env("light", "l", "Paint", `{}`), engine.Options{})
	require.NoError(t, err, "non-strict does not validate state")
	_, err = engine.Decide(p, engine.Current{}, env("light", "l", "Paint", `{}`), engine.Options{Strict: true})
	var ee *engine.Error
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, engine.KindInvalidState, ee.Kind)
	require.NotEmpty(t, ee.Violations)
	assert.Equal(t, "/colour", ee.Violations[0].Pointer)
}

// Every kind a scenario may expect must be one the engine produces.
func TestScenarioErrorKindsAreEngineKinds(t *testing.T) {
	kinds := map[string]bool{}
	for _, k := range []engine.Kind{engine.KindInvalidJSON, engine.KindTooLarge, engine.KindTooDeep, engine.KindSchema,
		engine.KindUnknownCommand, engine.KindInstanceMissing, engine.KindInstanceExists, engine.KindVersionConflict,
		engine.KindBudget, engine.KindExpression, engine.KindInvalidState} {
		kinds[string(k)] = true
	}
	for _, k := range interpreter.ErrorKinds {
		assert.True(t, kinds[k], "interpreter.ErrorKinds has %q, which the engine never returns", k)
	}
}

// The hand-written encoders write what encoding/json writes.
func TestDecisionJSON(t *testing.T) {
	p := shop(t)
	d, err := engine.Decide(p, openCart(t, p), env("cart", "x", "AddItem", `{"sku":"TEA-01","qty":2,"price":4.5}`), engine.Options{})
	require.NoError(t, err)
	d.Events[0].Time = time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	want, err := json.Marshal(d)
	require.NoError(t, err)
	got, err := value.Encode(d)
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
	assert.Equal(t, string(want), string(got))
	empty, err := value.Encode(&engine.Decision{State: map[string]any{}})
	require.NoError(t, err)
	assert.Equal(t, `{"events":null,"state":{},"version":0}`, string(empty))
}

// The initial state is shared by every new instance: deciding commands on
// new instances leaves it as it was.
func TestInitialStateIsNeverChanged(t *testing.T) {
	p := shop(t)
	before := enc(p.Aggregates["cart"].Initial())
	d, err := engine.Decide(p, engine.Current{}, env("cart", "a", "Open", `{"customer":"ada"}`), engine.Options{Strict: true})
	require.NoError(t, err)
	_, err = engine.Decide(p, engine.Current{State: d.State, Version: d.Version}, env("cart", "a", "AddItem", `{"sku":"TEA-01","qty":1,"price":2}`), engine.Options{Strict: true})
	require.NoError(t, err)
	_, err = engine.Fold(p, "order", "o", []engine.Event{{ID: "e", Type: "OrderPlaced", Version: 1, Time: clock, Payload: map[string]any{"cart": "c", "total": 5}}}, engine.Options{})
	require.NoError(t, err)
	assert.Equal(t, before, enc(p.Aggregates["cart"].Initial()))
	assert.Equal(t, `{"discount":0,"items":{},"status":"new","total":0}`, before)
}
