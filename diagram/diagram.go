package diagram

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cuesource/cuesource/manifest"
)

// Node and edge kinds, as written in data-kind and class.
const (
	kindCommand    = "command"
	kindEvent      = "event"
	kindProjection = "projection"
	kindEffect     = "effect"

	edgeEmit     = "emit"     // command -> event
	edgeProject  = "project"  // event -> projection
	edgeTrigger  = "trigger"  // event -> effect
	edgeSend     = "send"     // effect -> command
	edgeOnReject = "onReject" // effect -> command, when send is rejected
)

// Sizes in pixels.
const (
	margin    = 16
	headerH   = 28
	colGap    = 72
	rowGap    = 12
	bandPadX  = 16
	bandPadT  = 34 // room for the aggregate's name
	bandPadB  = 14
	boxPadX   = 10
	boxPadY   = 8
	minBoxW   = 96
	laneStep  = 10 // between send lanes, left and right of the bands
	laneStepY = 8  // between send lanes in the gap above a band
)

const fonts = `system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif`

// style is a kind's fill and stroke.
type style struct{ fill, stroke string }

var styles = map[string]style{
	kindCommand:    {"#dbeafe", "#2563eb"},
	kindEvent:      {"#ffe8cc", "#e8590c"},
	kindProjection: {"#d3f9d8", "#2f9e44"},
	kindEffect:     {"#e5dbff", "#7048e8"},
	edgeEmit:       {"", "#6e7781"},
	edgeProject:    {"", "#6e7781"},
	edgeTrigger:    {"", "#6e7781"},
	edgeSend:       {"", "#7048e8"},
	edgeOnReject:   {"", "#cf222e"},
}

type node struct {
	kind, name string
	lines      []string // the name as shown, then smaller detail lines
	title      string
	band, col  int
	x, y, w, h int
	in, out    []*edge
}

func (n *node) mid() int { return n.y + n.h/2 }

type edge struct {
	kind     string
	from, to *node
	title    string
	y1, y2   int // ports on the source's right side and the target's left side
	lane     int // send edges only
}

type band struct {
	name  string
	title string
	// retention is the aggregate's retention, own or the context's, as
	// drawn beside its name; "" when every event stays hot.
	retention string
	cols      [3][]*node
	y, h      int
}

type diagram struct {
	name    string
	bands   []*band
	nodes   map[string]*node // kind + " " + name
	edges   []*edge
	sends   int
	colX    [3]int
	colW    [3]int
	bandX   int
	bandR   int // right edge of the bands
	w, h    int
	legendX int
}

// SVG draws the manifest's event model: per aggregate, its commands -> the
// events they emit -> the projections and effects those events feed, with
// send links from effects to the commands they send (across aggregates).
// The same manifest always gives the same bytes.
func SVG(m *manifest.Manifest) []byte {
	if m == nil {
		m = &manifest.Manifest{}
	}
	d := build(m)
	d.layout()
	return d.render()
}

func build(m *manifest.Manifest) *diagram {
	d := &diagram{name: m.Name, nodes: map[string]*node{}}
	alias := map[string]*node{} // "aggregate.Former" -> its event
	for i, an := range slices.Sorted(maps.Keys(m.Aggregates)) {
		a := m.Aggregates[an]
		b := &band{name: an}
		d.bands = append(d.bands, b)
		cmds := slices.Sorted(maps.Keys(a.Commands))
		b.title = fmt.Sprintf("aggregate %s\n%d commands, %d events", an, len(cmds), len(a.Events))
		if b.retention = retentionText(cmp.Or(a.Retention, m.Retention), m.Retention); b.retention != "" {
			b.title += "\nretention: " + b.retention
		}
		for _, cn := range cmds {
			c := a.Commands[cn]
			t := "command " + an + "." + cn
			if c.Instance != "" {
				t += "\ninstance: " + c.Instance
			}
			for _, r := range c.Require {
				t += "\nrequires: " + r.Name
			}
			for _, l := range c.Lookup {
				if l.Query != "" {
					t += "\nlooks up " + l.Name + ": query " + l.Query
				} else {
					t += "\nlooks up " + l.Name + ": " + l.Aggregate + " " + l.ID.Src
				}
			}
			b.cols[0] = append(b.cols[0], d.add(kindCommand, an+"."+cn, t, i, 0, cn))
		}
		// Events in the order the (sorted) commands emit them, so that
		// emit arrows run mostly straight; events no command emits last.
		rank := map[string]int{}
		for _, cn := range cmds {
			for _, e := range a.Commands[cn].Emit {
				if _, ok := rank[e.Event]; !ok {
					rank[e.Event] = len(rank)
				}
			}
		}
		evs := slices.SortedFunc(maps.Keys(a.Events), func(x, y string) int {
			rx, okx := rank[x]
			ry, oky := rank[y]
			if okx != oky {
				if okx {
					return -1
				}
				return 1
			}
			return cmp.Or(cmp.Compare(rx, ry), cmp.Compare(x, y))
		})
		for _, en := range evs {
			e := a.Events[en]
			label, t := en, "event "+an+"."+en
			if v := len(e.Lenses); v > 0 {
				label += " v" + strconv.Itoa(v)
				t += fmt.Sprintf("\nversion %d (%d lenses from older versions)", v, v)
			}
			n := d.add(kindEvent, an+"."+en, t, i, 1, label)
			if len(e.Aliases) > 0 {
				var was []string
				for _, al := range e.Aliases {
					was = append(was, al.Name)
					alias[an+"."+al.Name] = n
				}
				n.lines = append(n.lines, "was "+strings.Join(was, ", "))
				n.title += "\nformerly " + strings.Join(was, ", ")
			}
			// What the event does to the aggregate's unique keys.
			for _, u := range a.Unique {
				switch {
				case slices.Contains(u.ClaimedBy, en):
					n.lines = append(n.lines, "claims "+u.Name)
					n.title += "\nclaims unique " + u.Name + " (key " + u.Key.Src + ")"
				case slices.Contains(u.ReleasedBy, en):
					n.lines = append(n.lines, "releases "+u.Name)
					n.title += "\nreleases unique " + u.Name
				}
			}
			b.cols[1] = append(b.cols[1], n)
		}
		for _, cn := range cmds {
			from := d.nodes[kindCommand+" "+an+"."+cn]
			conds := map[*node][]string{}
			var order []*node
			for _, e := range a.Commands[cn].Emit {
				to := d.nodes[kindEvent+" "+an+"."+e.Event]
				if to == nil {
					continue
				}
				if _, ok := conds[to]; !ok {
					order = append(order, to)
					conds[to] = nil
				}
				if e.If != nil {
					conds[to] = append(conds[to], "if "+e.If.Src)
				}
			}
			for _, to := range order {
				t := from.name + " emits " + to.name
				if len(conds[to]) > 0 {
					t += "\n" + strings.Join(conds[to], "\nor ")
				}
				d.link(edgeEmit, from, to, t)
			}
		}
	}

	event := func(name string) *node {
		if n := d.nodes[kindEvent+" "+name]; n != nil {
			return n
		}
		return alias[name]
	}
	// place puts a projection or effect in the band most of its events
	// come from (the first by name on a tie); the first band otherwise.
	place := func(events []string) int {
		count := make([]int, len(d.bands))
		for _, e := range events {
			if n := event(e); n != nil {
				count[n.band]++
			}
		}
		best := 0
		for i, c := range count {
			if c > count[best] {
				best = i
			}
		}
		if len(d.bands) == 0 {
			d.bands = append(d.bands, &band{title: "no aggregates"})
		}
		return best
	}

	for _, pn := range slices.Sorted(maps.Keys(m.Projections)) {
		p := m.Projections[pn]
		var on []string
		for _, h := range p.On {
			on = append(on, h.Event)
		}
		on = sortedSet(on)
		t := "projection " + pn
		if p.Mode != "" {
			t += "\nmode: " + p.Mode
		}
		t += "\ncolumns: " + strings.Join(slices.Sorted(maps.Keys(p.Columns)), ", ")
		bi := place(on)
		n := d.add(kindProjection, pn, t, bi, 2, pn)
		if p.Mode != "" {
			n.lines = append(n.lines, p.Mode)
		}
		d.bands[bi].cols[2] = append(d.bands[bi].cols[2], n)
		for _, en := range on {
			verb := " updates "
			for _, h := range p.On {
				if h.Event == en && h.Delete {
					verb = " deletes from "
				}
			}
			if from := event(en); from != nil {
				d.link(edgeProject, from, n, from.name+verb+pn)
			}
		}
	}

	for _, fn := range slices.Sorted(maps.Keys(m.Effects)) {
		f := m.Effects[fn]
		on := sortedSet(f.On)
		t := "effect " + fn + "\non " + strings.Join(on, ", ")
		if f.If != nil {
			t += "\nif " + f.If.Src
		}
		t += "\ndelivery: " + f.Delivery
		if f.Retry.Max > 0 {
			t += fmt.Sprintf(", retry %d times from %s", f.Retry.Max, f.Retry.Backoff)
		}
		detail := f.Delivery
		switch {
		case f.HTTP != nil:
			detail += " · " + f.HTTP.Method + " $" + f.HTTP.URLEnv
			t += "\nhttp: " + f.HTTP.Method + " $" + f.HTTP.URLEnv
		case f.Send != nil:
			detail += " · send " + f.Send.Aggregate + "." + f.Send.Command
			t += "\nsend: " + f.Send.Aggregate + "." + f.Send.Command
			if r := f.Send.OnReject; r != nil {
				t += "\nonReject: " + r.Aggregate + "." + r.Command
			}
		}
		bi := place(on)
		n := d.add(kindEffect, fn, t, bi, 2, fn)
		n.lines = append(n.lines, strings.TrimPrefix(detail, " · "))
		d.bands[bi].cols[2] = append(d.bands[bi].cols[2], n)
		for _, en := range on {
			if from := event(en); from != nil {
				d.link(edgeTrigger, from, n, en+" triggers "+fn)
			}
		}
		if s := f.Send; s != nil {
			target := s.Aggregate + "." + s.Command
			if to := d.nodes[kindCommand+" "+target]; to != nil {
				d.link(edgeSend, n, to, fn+" sends "+target)
			}
			if r := s.OnReject; r != nil {
				if to := d.nodes[kindCommand+" "+r.Aggregate+"."+r.Command]; to != nil {
					d.link(edgeOnReject, n, to, fn+" sends "+to.name+" when "+target+" is rejected")
				}
			}
		}
	}
	return d
}

func sortedSet(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

func (d *diagram) add(kind, name, title string, band, col int, label string) *node {
	n := &node{kind: kind, name: name, title: title, band: band, col: col, lines: []string{label}}
	d.nodes[kind+" "+name] = n
	return n
}

func (d *diagram) link(kind string, from, to *node, title string) {
	e := &edge{kind: kind, from: from, to: to, title: title}
	if kind == edgeSend || kind == edgeOnReject {
		d.sends++
	}
	from.out = append(from.out, e)
	to.in = append(to.in, e)
	d.edges = append(d.edges, e)
}

// textW approximates the width of a line of text, generously, since fonts
// differ between systems: the main line is 13px semibold, detail lines
// 11px. Widths are in tenths of a pixel per character: narrow, capital,
// other.
func textW(s string, main bool) int {
	narrow, upper, other := 35, 80, 65
	if main {
		narrow, upper, other = 48, 105, 88
	}
	w := 0
	for _, r := range s {
		switch {
		case strings.ContainsRune("ilj.,:;'|!() ", r):
			w += narrow
		case r >= 'A' && r <= 'Z', r == 'm', r == 'w', r == '_':
			w += upper
		default:
			w += other
		}
	}
	return (w + 9) / 10
}

func (d *diagram) layout() {
	lanes := 0
	if d.sends > 0 {
		lanes = d.sends*laneStep + 8
	}
	for _, n := range d.nodes {
		n.h = 2*boxPadY + 16 + 14*(len(n.lines)-1)
		for i, l := range n.lines {
			n.w = max(n.w, textW(l, i == 0)+2*boxPadX, minBoxW)
		}
		d.colW[n.col] = max(d.colW[n.col], n.w)
	}
	d.bandX = margin + lanes
	x := d.bandX + bandPadX
	for c := range d.colX {
		d.colX[c] = x
		if d.colW[c] > 0 {
			x += d.colW[c] + colGap
		}
	}
	d.bandR = max(x-colGap+bandPadX, d.bandX+2*bandPadX+minBoxW)
	for _, b := range d.bands {
		d.bandR = max(d.bandR, d.bandX+2*bandPadX+textW(b.name, true)+8)
	}

	gap := 20 + d.sends*laneStepY
	y := margin + headerH + gap
	for _, b := range d.bands {
		inner := 32
		for _, col := range b.cols {
			ch := -rowGap
			for _, n := range col {
				ch += n.h + rowGap
			}
			inner = max(inner, ch)
		}
		b.y, b.h = y, bandPadT+inner+bandPadB
		for c, col := range b.cols {
			ch := -rowGap
			for _, n := range col {
				ch += n.h + rowGap
			}
			ny := y + bandPadT + (inner-ch)/2 // centred in the band
			for _, n := range col {
				n.x, n.y, n.w = d.colX[c], ny, d.colW[c]
				ny += n.h + rowGap
			}
		}
		y += b.h + gap
	}
	d.h = y - gap + margin
	if len(d.bands) == 0 {
		d.h = margin + headerH + margin
	}
	d.legendX = margin + textW(d.name, true) + 32
	d.w = max(d.bandR+lanes+margin, d.legendX+legendW+margin)

	// Send lanes nest: the shorter a route, the closer its lanes run to
	// the bands.
	var sends []*edge
	for _, e := range d.edges {
		if e.kind == edgeSend || e.kind == edgeOnReject {
			sends = append(sends, e)
		}
	}
	span := func(e *edge) int {
		y := d.bands[e.to.band].y
		return abs(e.from.mid()-y) + abs(e.to.mid()-y)
	}
	slices.SortStableFunc(sends, func(a, b *edge) int { return cmp.Compare(span(a), span(b)) })
	for i, e := range sends {
		e.lane = i
	}

	// Ports: a node's edges leave its right side and enter its left side
	// spread out, in the order of the nodes at their other end.
	byOther := func(other func(*edge) *node) func(a, b *edge) int {
		return func(a, b *edge) int {
			x, y := other(a), other(b)
			return cmp.Or(cmp.Compare(x.mid(), y.mid()), cmp.Compare(x.x, y.x),
				cmp.Compare(x.kind, y.kind), cmp.Compare(x.name, y.name), cmp.Compare(a.kind, b.kind))
		}
	}
	for _, n := range d.nodes {
		slices.SortStableFunc(n.out, byOther(func(e *edge) *node { return e.to }))
		for i, e := range n.out {
			e.y1 = n.y + n.h*(i+1)/(len(n.out)+1)
		}
		slices.SortStableFunc(n.in, byOther(func(e *edge) *node { return e.from }))
		for i, e := range n.in {
			e.y2 = n.y + n.h*(i+1)/(len(n.in)+1)
		}
	}
}

var legend = []string{kindCommand, kindEvent, kindProjection, kindEffect}

// legendW is the width of the legend: four swatches and a send arrow.
var legendW = func() int {
	w := 80
	for _, k := range legend {
		w += 20 + textW(k, true) + 12
	}
	return w
}()

func (d *diagram) render() []byte {
	var b bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" font-family="%s" font-size="13" fill="#1f2328">`+"\n",
		d.w, d.h, d.w, d.h, esc(fonts))
	p("<title>%s</title>\n", esc(cmp.Or(d.name, "context")+": event model"))
	p(`<defs>`)
	for _, k := range []string{edgeEmit, edgeSend, edgeOnReject} {
		p(`<marker id="cs-arrow-%s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto"><path d="M0 0L10 5L0 10z" fill="%s"/></marker>`,
			k, styles[k].stroke)
	}
	p("</defs>\n")

	// The header: the context's name and a legend.
	p(`<g class="legend"><text x="%d" y="%d" font-size="16" font-weight="700">%s</text>`, margin, margin+16, esc(d.name))
	x := d.legendX
	for _, k := range legend {
		s := styles[k]
		p(`<rect x="%d" y="%d" width="14" height="14" rx="3" fill="%s" stroke="%s"/><text x="%d" y="%d" font-size="12">%s</text>`,
			x, margin+4, s.fill, s.stroke, x+20, margin+15, k)
		x += 20 + textW(k, true) + 12
	}
	p(`<path d="M%d %dH%d" stroke="%s" stroke-width="1.5" stroke-dasharray="6 4" marker-end="url(#cs-arrow-send)"/><text x="%d" y="%d" font-size="12">send</text></g>`+"\n",
		x, margin+11, x+34, styles[edgeSend].stroke, x+40, margin+15)

	for _, bd := range d.bands {
		p(`<g class="band" data-kind="aggregate" data-name="%s"><title>%s</title>`, esc(bd.name), esc(bd.title))
		p(`<rect x="%d" y="%d" width="%d" height="%d" rx="10" fill="#f6f8fa" stroke="#d0d7de"/>`, d.bandX, bd.y, d.bandR-d.bandX, bd.h)
		p(`<text x="%d" y="%d" font-size="14" font-weight="700">%s</text>`, d.bandX+bandPadX, bd.y+22, esc(bd.name))
		if bd.retention != "" {
			p(`<text class="retention" x="%d" y="%d" font-size="11" fill="#57606a">%s</text>`, d.bandX+bandPadX+textW(bd.name, true)+12, bd.y+22, esc("retention: "+bd.retention))
		}
		p("</g>\n")
	}

	for _, e := range d.edges {
		s := styles[e.kind]
		x1, x2 := e.from.x+e.from.w, e.to.x
		var path, dash, marker string
		switch e.kind {
		case edgeSend, edgeOnReject:
			// Around the bands: out to a lane on the right, up or down to
			// the gap above the target's band, across to a lane on the
			// left, and in to the command.
			xr := d.bandR + 12 + e.lane*laneStep
			xl := d.bandX - 12 - e.lane*laneStep
			yg := d.bands[e.to.band].y - 10 - e.lane*laneStepY
			path = fmt.Sprintf("M%d %dH%dV%dH%dV%dH%d", x1, e.y1, xr, yg, xl, e.y2, x2)
			dash = ` stroke-dasharray="6 4"`
			marker = e.kind
		default:
			dx := (x2 - x1) / 2
			path = fmt.Sprintf("M%d %dC%d %d %d %d %d %d", x1, e.y1, x1+dx, e.y1, x2-dx, e.y2, x2, e.y2)
			marker = edgeEmit
		}
		p(`<g class="edge %s" data-kind="%s" data-from="%s" data-to="%s"><title>%s</title>`,
			e.kind, e.kind, esc(e.from.name), esc(e.to.name), esc(e.title))
		p(`<path d="%s" fill="none" stroke="%s" stroke-width="1.5"%s marker-end="url(#cs-arrow-%s)"/></g>`+"\n", path, s.stroke, dash, marker)
	}

	for _, bd := range d.bands {
		for _, col := range bd.cols {
			for _, n := range col {
				s := styles[n.kind]
				p(`<g class="node %s" data-kind="%s" data-name="%s"><title>%s</title>`, n.kind, n.kind, esc(n.name), esc(n.title))
				p(`<rect x="%d" y="%d" width="%d" height="%d" rx="6" fill="%s" stroke="%s" stroke-width="1.5"/>`, n.x, n.y, n.w, n.h, s.fill, s.stroke)
				for i, l := range n.lines {
					if i == 0 {
						p(`<text x="%d" y="%d" font-weight="600">%s</text>`, n.x+boxPadX, n.y+boxPadY+13, esc(l))
					} else {
						p(`<text x="%d" y="%d" font-size="11" fill="#57606a">%s</text>`, n.x+boxPadX, n.y+boxPadY+13+14*i, esc(l))
					}
				}
				p("</g>\n")
			}
		}
	}
	p("</svg>\n")
	return b.Bytes()
}

// retentionText says what an aggregate keeps hot: its rules (r, its own
// or the context's) and the context's byte budget.
func retentionText(r, ctx *manifest.Retention) string {
	var parts []string
	if r != nil {
		if r.KeepFor != "" {
			parts = append(parts, "keep "+r.KeepFor)
		}
		if r.KeepLast > 0 {
			parts = append(parts, "last "+strconv.FormatInt(r.KeepLast, 10))
		}
		if r.SinceSnapshot {
			parts = append(parts, "since snapshot")
		}
	}
	if ctx != nil && ctx.HotBytes > 0 {
		parts = append(parts, "hot ≤ "+strconv.FormatInt(ctx.HotBytes, 10)+" B")
	}
	return strings.Join(parts, " · ")
}

func abs(x int) int { return max(x, -x) }

// esc escapes text for XML content and attribute values, and replaces
// characters XML cannot hold.
func esc(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&#39;")
		case r == '\n' || r == '\r' || r == '\t':
			fmt.Fprintf(&b, "&#%d;", r)
		case r < 0x20, r >= 0xD800 && r < 0xE000, r == 0xFFFE, r == 0xFFFF:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
