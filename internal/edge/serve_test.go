package edge

import (
	"encoding/json"
	"strings"
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
	m, err := compiler.Compile("../../contexts/example.cue")
	require.NoError(t, err)
	data, err := compiler.Marshal(m)
	require.NoError(t, err)
	c, err := New(data, Config{AdminToken: "adm"})
	require.NoError(t, err)
	return c
}

func run(t *testing.T, c *Core, name string, input any) Step {
	t.Helper()
	in, err := json.Marshal(input)
	require.NoError(t, err)
	out := c.Call(name, in)
	var raw struct {
		Op    *Op             `json:"op"`
		Done  json.RawMessage `json:"done"`
		Fault *Fault          `json:"fault"`
	}
	require.NoError(t, json.Unmarshal(out, &raw), "%s", out)
	require.Nil(t, raw.Fault, "%s", out)
	return Step{Op: raw.Op, Done: raw.Done}
}

// A command's or a seed's object answers in the domain's terms; the
// serve script maps every such answer to the response api gives it
// natively, and a failed operation to a 500.
func TestObjectAnswersBecomeTheNativeResponse(t *testing.T) {
	c := exampleCore(t)
	reqs := []struct {
		req     WireRequest
		agg, id string
	}{
		{WireRequest{Method: "POST", Path: "/cart/c1/Open", Headers: [][2]string{{"content-type", "application/json"}}, Body: `{"customer":"ada"}`}, "cart", "c1"},
		{WireRequest{Method: "POST", Path: "/cart/c1/AddItem", Headers: [][2]string{{"Content-Type", "application/json"}, {"If-Match", `W/"1"`}, {"Idempotency-Key", "k"}}, Body: `{"sku":"SKU-1","qty":1,"price":2}`}, "cart", "c1"},
		{WireRequest{Method: "POST", Path: "/admin/seed/order/o1", Headers: [][2]string{{"Content-Type", "application/json"}, {"Authorization", "Bearer adm"}}, Body: `{"events":[{"event":"OrderPlaced","payload":{"cart":"c","total":3}}]}`}, "order", "o1"},
	}
	answers := []cuesource.Answer{
		{Version: 1, Created: true, Body: json.RawMessage(`{"version":1}`)},
		{Version: 2, Replayed: true, Body: json.RawMessage(`{"version":2,"effects":[]}`)},
		{Rejection: &cuesource.Rejection{Kind: engine.KindGuard, Name: "open", Message: "state.status == 'open'"}},
		{Rejection: &cuesource.Rejection{Kind: engine.KindVersionConflict, Current: 3, Message: "If-Match does not match"}},
		cuesource.Conflict(4),
	}
	for _, r := range reqs {
		in := serveInput{Request: r.req, ID: "id-1"}
		first := run(t, c, "serve", in)
		require.NotNil(t, first.Op, "%s %s", r.req.Method, r.req.Path)
		for _, a := range answers {
			ok, _ := json.Marshal(a)
			in.Results = []Result{{OK: ok}}
			end := run(t, c, "serve", in)
			require.Nil(t, end.Op)
			want, _ := json.Marshal(toWire(api.Answer(a, r.agg, r.id)))
			assert.JSONEq(t, string(want), string(end.Done.(json.RawMessage)), "%s %s", r.req.Method, r.req.Path)
		}
		// A failed operation is the script's 500.
		in.Results = []Result{{Error: "the object is gone"}}
		end := run(t, c, "serve", in)
		var resp WireResponse
		require.NoError(t, json.Unmarshal(end.Done.(json.RawMessage), &resp))
		assert.Equal(t, 500, resp.Status)
	}
}

// A script is a function of its input: the same input and results give
// the same step, which is what lets Go keep nothing between calls.
func TestScriptsAreDeterministic(t *testing.T) {
	c := exampleCore(t)
	in, _ := json.Marshal(serveInput{Request: WireRequest{Method: "POST", Path: "/cart/c2/Open",
		Headers: [][2]string{{"Content-Type", "application/json"}}, Body: `{"customer":"bob"}`}, ID: "fixed"})
	assert.Equal(t, string(c.Call("serve", in)), string(c.Call("serve", in)))
}

// A panic inside a function is an answer, not the end of the runtime.
func TestPanicIsAFault(t *testing.T) {
	c := exampleCore(t)
	var out struct{ Fault *Fault }
	require.NoError(t, json.Unmarshal(c.Call("panic", []byte(`{}`)), &out))
	require.NotNil(t, out.Fault)
	assert.Equal(t, "panic", out.Fault.Kind)
	require.NoError(t, json.Unmarshal(c.Call("no such function", nil), &out))
	assert.Equal(t, "input", out.Fault.Kind)
}

// A request for the live stream is handed to the stream script, which
// answers a page of frames per run, or refuses as the API does.
func TestStream(t *testing.T) {
	c := exampleCore(t)
	sse := [][2]string{{"Accept", "text/event-stream"}}
	st := run(t, c, "serve", serveInput{Request: WireRequest{Method: "GET", Path: "/events", Headers: sse}})
	var resp WireResponse
	require.NoError(t, json.Unmarshal(st.Done.(json.RawMessage), &resp))
	assert.True(t, resp.Stream)

	in := streamInput{Request: WireRequest{Method: "GET", Path: "/events", Query: "after=0", Headers: sse}}
	st = run(t, c, "stream", in)
	require.NotNil(t, st.Op)
	assert.Equal(t, "d1", st.Op.Kind)
	rows, _ := json.Marshal(rawRows{Columns: []string{"position"}, Rows: [][]any{
		{1, "e1", "cart", "c1", 1, "CartOpened", 0, "2026-11-26T12:00:00Z", "cmd1", `{"customer":"ada"}`},
		{2, "e2", "cart", "c1", 2, "ItemAdded", 0, "2026-11-26T12:00:01Z", "cmd2", `{"sku":"SKU-1","qty":1,"price":2}`},
	}})
	in.Results = []Result{{OK: rows}}
	st = run(t, c, "stream", in)
	require.Nil(t, st.Op)
	var page Streamed
	require.NoError(t, json.Unmarshal(st.Done.(json.RawMessage), &page))
	assert.Nil(t, page.Response)
	assert.Equal(t, int64(2), page.Next)
	assert.Contains(t, page.Frames, "id: 1\nevent: cart.CartOpened\ndata: {\"id\":\"e1\",\"position\":1,")
	assert.Contains(t, page.Frames, "id: 2\nevent: cart.ItemAdded\n")
	assert.Equal(t, 2, strings.Count(page.Frames, "\n\n"))

	// Refused as natively: a bad Last-Event-ID, a missing token.
	bad := streamInput{Request: WireRequest{Method: "GET", Path: "/events", Headers: append(sse, [2]string{"Last-Event-ID", "x"})}}
	require.NoError(t, json.Unmarshal(run(t, c, "stream", bad).Done.(json.RawMessage), &page))
	require.NotNil(t, page.Response)
	assert.Equal(t, 400, page.Response.Status)
	m, _ := compiler.Compile("../../contexts/example.cue")
	data, _ := compiler.Marshal(m)
	locked, err := New(data, Config{Token: "tok"})
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(run(t, locked, "stream", streamInput{Request: WireRequest{Method: "GET", Path: "/events", Headers: sse}}).Done.(json.RawMessage), &page))
	require.NotNil(t, page.Response)
	assert.Equal(t, 401, page.Response.Status)
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
