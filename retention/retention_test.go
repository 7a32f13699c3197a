package retention

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/manifest"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "36h": 36 * time.Hour, "1d12h": 36 * time.Hour, "30s": 30 * time.Second, "5m": 5 * time.Minute} {
		got, err := ParseDuration(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for in, msg := range map[string]string{"": "empty duration", "90": "want numbers", "d": "want numbers", "3w": `unknown unit 'w'`, "0d": "longer than zero", "99999999999999999d": "too long"} {
		_, err := ParseDuration(in)
		require.Error(t, err, in)
		assert.Contains(t, err.Error(), msg, in)
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// window: instance a has versions 1..4 at positions 1,2,4,6; b has 1..2 at 3,5.
func window() []Candidate {
	mk := func(pos int64, inst string, v, latest int64, age time.Duration) Candidate {
		return Candidate{Position: pos, Aggregate: "cart", Instance: inst, Version: v, Latest: latest, FirstHot: 1, Time: t0.Add(-age), Bytes: 100}
	}
	return []Candidate{mk(1, "a", 1, 4, 10*time.Hour), mk(2, "a", 2, 4, 9*time.Hour), mk(3, "b", 1, 2, 8*time.Hour),
		mk(4, "a", 3, 4, 2*time.Hour), mk(5, "b", 2, 2, time.Hour), mk(6, "a", 4, 4, 0)}
}

func positions(d Decision) []int64 {
	var out []int64
	for _, l := range d.Leave {
		out = append(out, l.Position)
	}
	return out
}

func TestDecide(t *testing.T) {
	all := Guards{Archived: 100, Projected: 100, Head: 100}
	for _, tc := range []struct {
		name   string
		ps     Policies
		g      Guards
		hot    int64
		edit   func([]Candidate)
		ignore bool
		want   []int64
	}{
		{name: "no rule keeps everything", g: all, hot: 600},
		{name: "keepFor", ps: Policies{Context: Policy{KeepFor: 5 * time.Hour}}, g: all, want: []int64{1, 2, 3}},
		{name: "keepLast", ps: Policies{Context: Policy{KeepLast: 1}}, g: all, want: []int64{1, 2, 3, 4}},
		{name: "both keep what either keeps", ps: Policies{Context: Policy{KeepLast: 3, KeepFor: 5 * time.Hour}}, g: all, want: []int64{1}},
		{name: "aggregate overrides context", ps: Policies{Context: Policy{KeepLast: 1}, Aggregates: map[string]Policy{"cart": {KeepLast: 2}}}, g: all, want: []int64{1, 2}},
		{name: "sinceSnapshot without snapshot keeps", ps: Policies{Context: Policy{SinceSnapshot: true}}, g: all},
		{name: "sinceSnapshot", ps: Policies{Context: Policy{SinceSnapshot: true}}, g: all, edit: func(w []Candidate) {
			for i := range w {
				if w[i].Instance == "a" {
					w[i].Snapshot = 2
				}
			}
		}, want: []int64{1, 2}},
		{name: "budget takes the oldest until under", ps: Policies{HotBytes: 350}, g: all, hot: 600, want: []int64{1, 2, 3}},
		{name: "not archived stays", ps: Policies{HotBytes: 1}, g: Guards{Archived: 2, Projected: 100, Head: 100}, hot: 600, want: []int64{1, 2}},
		{name: "ignoring the archive guard says what to archive", ps: Policies{HotBytes: 1}, g: Guards{Archived: 2, Projected: 100, Head: 100}, hot: 600, ignore: true, want: []int64{1, 2, 3, 4, 5, 6}},
		{name: "not projected stays", ps: Policies{HotBytes: 1}, g: Guards{Archived: 100, Projected: 1, Head: 100}, hot: 600, want: []int64{1}},
		{name: "the head stays", ps: Policies{HotBytes: 1}, g: Guards{Archived: 100, Projected: 100, Head: 6}, hot: 600, want: []int64{1, 2, 3, 4, 5}},
		{name: "owed stays, and its instance's later ones", ps: Policies{HotBytes: 1}, g: all, hot: 600, edit: func(w []Candidate) { w[1].Owed = true }, want: []int64{1, 3, 5}},
		{name: "an instance's hot history stays a suffix", ps: Policies{HotBytes: 1}, g: all, hot: 600, edit: func(w []Candidate) {
			for i := range w {
				if w[i].Instance == "b" {
					w[i].FirstHot = 0 // an older one is hot, outside the window
				}
			}
		}, want: []int64{1, 2, 4, 6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := window()
			if tc.edit != nil {
				tc.edit(w)
			}
			d := Decide(tc.ps, tc.g, tc.hot, t0, w, tc.ignore)
			assert.Equal(t, tc.want, positions(d))
			if len(tc.want) > 0 {
				assert.Equal(t, tc.want[len(tc.want)-1], d.Wanted)
			}
		})
	}
}

// Of reads a manifest's policies, an aggregate's replacing the
// context's, and reports each rule that cannot hold at its position.
func TestOf(t *testing.T) {
	at := func(path string) manifest.Pos { return manifest.Pos{File: "r.cue", Line: 1, Col: 1, Path: path} }
	m := &manifest.Manifest{
		Retention: &manifest.Retention{KeepFor: "36h", HotBytes: 1000, Pos: at("retention")},
		Aggregates: map[string]*manifest.Aggregate{
			"cart":  {Retention: &manifest.Retention{KeepLast: 3, Pos: at("aggregates.cart.retention")}},
			"order": {},
		},
	}
	ps, err := Of(m)
	require.NoError(t, err)
	assert.Equal(t, Policies{Context: Policy{KeepFor: 36 * time.Hour}, HotBytes: 1000, Aggregates: map[string]Policy{"cart": {KeepLast: 3}}}, ps)
	assert.Equal(t, Policy{KeepLast: 3}, ps.For("cart"))
	assert.Equal(t, Policy{KeepFor: 36 * time.Hour}, ps.For("order"))
	assert.True(t, Declared(m))

	m.Retention = &manifest.Retention{Pos: at("retention")}
	m.Aggregates["cart"].Retention = &manifest.Retention{KeepFor: "3w", HotBytes: 5, Pos: at("aggregates.cart.retention")}
	_, err = Of(m)
	require.Error(t, err)
	var msgs []string
	for _, e := range err.(diag.List) {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	assert.Len(t, msgs, 3, all)
	for _, want := range []string{
		"retention: retention declares no rule",
		"aggregate cart: retention.hotBytes is the context's only",
		`aggregate cart: retention.keepFor: duration "3w": unknown unit 'w'`,
	} {
		assert.Contains(t, all, want)
	}
	assert.False(t, Declared(&manifest.Manifest{Aggregates: map[string]*manifest.Aggregate{"a": {}}}))
}

// On D1 a declared retention without a byte budget gets D1HotBytes; a
// declared budget stays, and no retention stays none.
func TestOnD1(t *testing.T) {
	keep := Policies{Context: Policy{KeepLast: 10}}
	assert.Equal(t, int64(D1HotBytes), keep.OnD1().HotBytes)
	assert.Equal(t, int64(4096), Policies{HotBytes: 4096}.OnD1().HotBytes)
	assert.False(t, Policies{}.OnD1().Active())
}
