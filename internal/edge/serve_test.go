package edge

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/scenario"
	"github.com/cuesource/cuesource/store"
)

func exampleCore(t *testing.T) *Core {
	t.Helper()
	return coreOf(t, "../../contexts/example.cue", Config{AdminToken: "adm"})
}

func coreOf(t *testing.T, ctx string, cfg Config) *Core {
	t.Helper()
	m, err := compiler.Compile(ctx)
	require.NoError(t, err)
	data, err := compiler.Marshal(m)
	require.NoError(t, err)
	c, err := New(data, cfg)
	require.NoError(t, err)
	withTestScripts(c)
	return c
}

// runWith runs a script whose operations get results in order, and
// returns the operations it asked for and its answer.
func runWith(t *testing.T, c *Core, name string, input any, results ...Result) ([]Op, json.RawMessage) {
	t.Helper()
	in, err := json.Marshal(input)
	require.NoError(t, err)
	var ops []Op
	out := c.Run(name, in, func(op Op) Result {
		ops = append(ops, op)
		if len(ops) > len(results) {
			return Result{Error: "no result given"}
		}
		return results[len(ops)-1]
	})
	var raw struct {
		Fault *Fault `json:"fault"`
	}
	require.NoError(t, json.Unmarshal(out, &raw), "%s", out)
	require.Nil(t, raw.Fault, "%s", out)
	require.Len(t, ops, len(results), "the operations asked for: %+v", ops)
	return ops, out
}

// A panic inside a script is an answer, not the end of the runtime: the
// test switches' provoke script panics.
func TestPanicIsAFault(t *testing.T) {
	c := coreOf(t, "../../contexts/example.cue", Config{Env: map[string]string{"CUESOURCE_TEST_FAULTS": "1"}})
	var out struct{ Fault *Fault }
	require.NoError(t, json.Unmarshal(c.Run("provoke", []byte(`{"what":"panic"}`), nil), &out))
	require.NotNil(t, out.Fault)
	assert.Equal(t, "panic", out.Fault.Kind)
	require.NoError(t, json.Unmarshal(c.Call("no such function", nil), &out))
	assert.Equal(t, "input", out.Fault.Kind)
}

// Without CUESOURCE_TEST_FAULTS=1 there are no test switches: /__test/
// is the API's like any other path, and there is no provoke script.
func TestTestSwitchesOff(t *testing.T) {
	for _, v := range []string{"", "0", "true"} {
		c := coreOf(t, "../../contexts/example.cue", Config{Env: map[string]string{"CUESOURCE_TEST_FAULTS": v}})
		in := `{"request": {"method": "POST", "path": "/__test/faults", "query": "", "headers": [], "body": "{\"d1\":true}"}, "now": "2026-12-07T12:00:00Z", "id": "t1"}`
		var resp WireResponse
		require.NoError(t, json.Unmarshal(c.Run("serve", []byte(in), func(op Op) Result {
			t.Errorf("CUESOURCE_TEST_FAULTS=%q: POST /__test/faults asked for %+v", v, op)
			return Result{Error: "unexpected"}
		}), &resp))
		assert.Equal(t, 404, resp.Status, "CUESOURCE_TEST_FAULTS=%q: %+v", v, resp)
		assert.NotContains(t, resp.Body, "d1", v)
		assert.Contains(t, string(c.Run("provoke", []byte(`{"what":"panic"}`), nil)), `no script \"provoke\"`, v)
	}
}

// The Worker compiles its manifest without the checks vet already made
// (interpreter.CompileChecked): the program it gets must decide exactly as
// the checked one, which both contexts' scenarios show.
func TestCheckedProgramPassesTheScenarios(t *testing.T) {
	for _, ctx := range []string{"../../contexts/example.cue", "../../contexts/tickets"} {
		m, err := compiler.Compile(ctx)
		require.NoError(t, err)
		data, err := compiler.Marshal(m)
		require.NoError(t, err)
		c, err := New(data, Config{})
		require.NoError(t, err)
		withTestScripts(c)
		require.NotEmpty(t, m.Scenarios)
		for _, s := range m.Scenarios {
			r := scenario.Run(c.Program(), s)
			assert.True(t, r.Pass, "%s: %s: %v", ctx, s.Name, r.Failures)
		}
	}
}

// Rejections name the same violations with the checked program (its JSON
// Schemas compiled on first use) as with the fully compiled one.
func TestCheckedProgramRejectsAlike(t *testing.T) {
	m, err := compiler.Compile("../../contexts/example.cue")
	require.NoError(t, err)
	full, err := interpreter.Compile(m)
	require.NoError(t, err)
	data, err := compiler.Marshal(m)
	require.NoError(t, err)
	c, err := New(data, Config{})
	require.NoError(t, err)
	withTestScripts(c)
	payloads := []string{`{"sku":"bad sku","qty":0,"price":-1}`, `{"sku":1}`, `{}`, `[]`, `{"sku":"SKU-1","qty":1,"price":2,"extra":true}`}
	for _, pl := range payloads {
		req := &cuesource.CommandRequest{Aggregate: "cart", ID: "c", Command: "AddItem", Payload: json.RawMessage(pl), CommandID: "x", ExpectedVersion: engine.AnyVersion}
		cur := store.Instance{Aggregate: "cart", ID: "c", Version: 1, State: json.RawMessage(`{"customer":"a","status":"open","items":{},"total":0,"discount":0}`)}
		want := cuesource.Decide(full, cur, nil, req, engine.Options{})
		got := cuesource.Decide(c.Program(), cur, nil, req, engine.Options{})
		wantResp, gotResp := api.Answer(want.Answer, "cart", "c"), api.Answer(got.Answer, "cart", "c")
		assert.Equal(t, 400, wantResp.Status, pl)
		assert.Equal(t, wantResp.Status, gotResp.Status, pl)
		assert.JSONEq(t, string(wantResp.Body), string(gotResp.Body), pl)
	}
}
