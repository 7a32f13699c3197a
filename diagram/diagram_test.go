package diagram_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/cuesource/cuesource/compiler"
	"github.com/cuesource/cuesource/diagram"
	"github.com/cuesource/cuesource/manifest"
)

// parsed is what a browser UI finds in the SVG: nodes and edges by their
// data attributes.
type parsed struct {
	nodes map[string]bool // "kind name"
	edges map[string]bool // "kind from -> to"
	texts []string
}

func parse(t *testing.T, svg []byte) parsed {
	t.Helper()
	p := parsed{nodes: map[string]bool{}, edges: map[string]bool{}}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			attr := map[string]string{}
			for _, a := range tok.Attr {
				attr[a.Name.Local] = a.Value
			}
			switch {
			case tok.Name.Local != "g":
			case strings.HasPrefix(attr["class"], "node "):
				if attr["class"] != "node "+attr["data-kind"] {
					t.Errorf("node class %q, data-kind %q", attr["class"], attr["data-kind"])
				}
				p.nodes[attr["data-kind"]+" "+attr["data-name"]] = true
			case strings.HasPrefix(attr["class"], "edge "):
				p.edges[attr["data-kind"]+" "+attr["data-from"]+" -> "+attr["data-to"]] = true
			}
		case xml.CharData:
			p.texts = append(p.texts, string(tok))
		}
	}
	return p
}

// want lists the nodes and edges a manifest must give, read straight from it.
func want(m *manifest.Manifest) (nodes, edges []string) {
	for an, a := range m.Aggregates {
		for cn, c := range a.Commands {
			nodes = append(nodes, "command "+an+"."+cn)
			for _, e := range c.Emit {
				edges = append(edges, "emit "+an+"."+cn+" -> "+an+"."+e.Event)
			}
		}
		for en := range a.Events {
			nodes = append(nodes, "event "+an+"."+en)
		}
	}
	for pn, p := range m.Projections {
		nodes = append(nodes, "projection "+pn)
		for _, h := range p.On {
			edges = append(edges, "project "+h.Event+" -> "+pn)
		}
	}
	for fn, f := range m.Effects {
		nodes = append(nodes, "effect "+fn)
		for _, e := range f.On {
			edges = append(edges, "trigger "+e+" -> "+fn)
		}
		if s := f.Send; s != nil {
			edges = append(edges, "send "+fn+" -> "+s.Aggregate+"."+s.Command)
			if r := s.OnReject; r != nil {
				edges = append(edges, "onReject "+fn+" -> "+r.Aggregate+"."+r.Command)
			}
		}
	}
	return nodes, edges
}

func TestContexts(t *testing.T) {
	for _, tc := range []struct {
		path   string
		golden string
	}{
		{"../contexts/example.cue", "testdata/example.svg"},
		{"../contexts/tickets", ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			m, err := compiler.Compile(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			svg := diagram.SVG(m)
			got := parse(t, svg)
			nodes, edges := want(m)
			for _, n := range nodes {
				if !got.nodes[n] {
					t.Errorf("no node %s", n)
				}
			}
			for _, e := range edges {
				if !got.edges[e] {
					t.Errorf("no edge %s", e)
				}
			}
			if len(got.nodes) != len(slices.Compact(slices.Sorted(slices.Values(nodes)))) {
				t.Errorf("nodes: got %v, want %v", slices.Sorted(maps.Keys(got.nodes)), nodes)
			}
			if len(got.edges) != len(slices.Compact(slices.Sorted(slices.Values(edges)))) {
				t.Errorf("edges: got %v, want %v", slices.Sorted(maps.Keys(got.edges)), edges)
			}
			if again := diagram.SVG(m); !bytes.Equal(svg, again) {
				t.Error("two runs gave different bytes")
			}
			if tc.golden == "" {
				return
			}
			if os.Getenv("CUESOURCE_UPDATE") != "" {
				if err := os.WriteFile(tc.golden, svg, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			golden, err := os.ReadFile(tc.golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(svg, golden) {
				t.Errorf("differs from %s (CUESOURCE_UPDATE=1 rewrites it)", tc.golden)
			}
		})
	}
}

// TestExampleDetails checks what the example's boxes say: an event's
// version and former names, and a webhook's method and URL variable.
func TestExampleDetails(t *testing.T) {
	m, err := compiler.Compile("../contexts/example.cue")
	if err != nil {
		t.Fatal(err)
	}
	texts := parse(t, diagram.SVG(m)).texts
	for _, s := range []string{"ItemAdded v2", "was CartDropped", "queue · POST $ORDER_WEBHOOK_URL", "async · send order.Place"} {
		if !slices.Contains(texts, s) {
			t.Errorf("no text %q in %q", s, texts)
		}
	}
}

// TestEscape draws names XML would misread, in every place a name goes:
// data attributes, titles and text.
func TestEscape(t *testing.T) {
	m := &manifest.Manifest{
		Name: `a<&>"'b`,
		Aggregates: map[string]*manifest.Aggregate{
			"x<&>": {
				Commands: map[string]*manifest.Command{
					"Do<&>": {Emit: []manifest.Emit{{Event: "Done<&>", If: &manifest.Expr{Src: `cmd.a < 1 && cmd.b > "2"`}}}},
				},
				Events: map[string]*manifest.Event{
					"Done<&>": {Aliases: []manifest.Alias{{Name: "Was<&>"}}},
				},
			},
		},
		Projections: map[string]*manifest.Projection{
			"p<&>": {Mode: "inline", On: []manifest.ProjectionHandler{{Event: "x<&>.Done<&>"}}},
		},
		Effects: map[string]*manifest.Effect{
			"e<&>\x01": {
				On:       []string{"x<&>.Done<&>"},
				Delivery: "async",
				Send:     &manifest.Send{Aggregate: "x<&>", Command: "Do<&>", OnReject: &manifest.Send{Aggregate: "x<&>", Command: "Do<&>"}},
			},
		},
	}
	svg := diagram.SVG(m)
	got := parse(t, svg)
	for _, n := range []string{"command x<&>.Do<&>", "event x<&>.Done<&>", "projection p<&>", "effect e<&>\uFFFD"} {
		if !got.nodes[n] {
			t.Errorf("no node %q in %v", n, got.nodes)
		}
	}
	for _, e := range []string{
		"emit x<&>.Do<&> -> x<&>.Done<&>",
		"project x<&>.Done<&> -> p<&>",
		"trigger x<&>.Done<&> -> e<&>\uFFFD",
		"send e<&>\uFFFD -> x<&>.Do<&>",
		"onReject e<&>\uFFFD -> x<&>.Do<&>",
	} {
		if !got.edges[e] {
			t.Errorf("no edge %q in %v", e, got.edges)
		}
	}
	for _, s := range []string{`a<&>"'b`, "Do<&>", "was Was<&>"} {
		if !slices.Contains(got.texts, s) {
			t.Errorf("no text %q in %q", s, got.texts)
		}
	}
}

// TestEmpty: a manifest with nothing in it, or none, still draws.
func TestEmpty(t *testing.T) {
	parse(t, diagram.SVG(nil))
	parse(t, diagram.SVG(&manifest.Manifest{Name: "empty"}))
	// A projection on no known event sits in a band of its own.
	p := parse(t, diagram.SVG(&manifest.Manifest{Projections: map[string]*manifest.Projection{"p": {On: []manifest.ProjectionHandler{{Event: "a.B"}}}}}))
	if !p.nodes["projection p"] {
		t.Errorf("no projection node: %v", p.nodes)
	}
}

// Each aggregate's band says what it keeps hot: its own retention, or
// the context's, with the context's byte budget; an aggregate of a
// context without retention says nothing.
func TestRetention(t *testing.T) {
	m := &manifest.Manifest{Name: "r", Aggregates: map[string]*manifest.Aggregate{
		"cart":  {Retention: &manifest.Retention{KeepLast: 10, SinceSnapshot: true}},
		"order": {},
	}, Retention: &manifest.Retention{KeepFor: "90d", HotBytes: 4096}}
	svg := string(diagram.SVG(m))
	if !strings.Contains(svg, `>retention: last 10 · since snapshot · hot ≤ 4096 B</text>`) {
		t.Errorf("cart's own retention is not drawn:\n%s", svg)
	}
	if !strings.Contains(svg, `>retention: keep 90d · hot ≤ 4096 B</text>`) {
		t.Errorf("order's retention, the context's, is not drawn:\n%s", svg)
	}
	m.Retention = nil
	m.Aggregates["cart"].Retention = nil
	if strings.Contains(string(diagram.SVG(m)), "retention") {
		t.Error("a context without retention draws one")
	}
}

// An event that claims or releases a unique key says so under its name;
// a command's look-ups are in its title.
func TestUniqueAndLookups(t *testing.T) {
	m := &manifest.Manifest{Name: "u", Aggregates: map[string]*manifest.Aggregate{
		"cart": {
			Commands: map[string]*manifest.Command{"Open": {Emit: []manifest.Emit{{Event: "Opened"}}, Lookup: []manifest.Lookup{
				{Name: "price", Query: "prices"}, {Name: "owner", Aggregate: "client", ID: &manifest.Expr{Src: "cmd.client"}}}}},
			Events: map[string]*manifest.Event{"Opened": {}, "Closed": {}, "Noted": {}},
			Unique: []manifest.Unique{{Name: "onePerClient", Key: manifest.Expr{Src: "event.client"}, ClaimedBy: []string{"Opened"}, ReleasedBy: []string{"Closed"}}},
		},
	}}
	svg := string(diagram.SVG(m))
	for _, want := range []string{">claims onePerClient</text>", ">releases onePerClient</text>", "claims unique onePerClient (key event.client)",
		"looks up price: query prices", "looks up owner: client cmd.client"} {
		if !strings.Contains(svg, want) {
			t.Errorf("the diagram lacks %q:\n%s", want, svg)
		}
	}
	if strings.Count(svg, "onePerClient</text>") != 2 {
		t.Errorf("an event that neither claims nor releases says it does:\n%s", svg)
	}
}
