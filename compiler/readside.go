package compiler

import (
	"sort"

	"cuelang.org/go/cue"

	"github.com/cuesource/cuesource/manifest"
)

// readSide reads limits, snapshots, env, projections, queries and effects.
func (c *compilation) readSide(m *manifest.Manifest, v cue.Value) {
	lv := v.LookupPath(cue.ParsePath("limits"))
	for _, l := range []struct {
		name string
		to   *int
	}{{"stateBytes", &m.Limits.StateBytes}, {"eventBytes", &m.Limits.EventBytes}, {"queryRows", &m.Limits.QueryRows}, {"queryBytes", &m.Limits.QueryBytes}} {
		if n, err := lv.LookupPath(cue.ParsePath(l.name)).Int64(); err == nil {
			*l.to = int(n)
		}
	}
	m.Snapshots = c.snapshots(v)
	for name, ev := range fields(v.LookupPath(cue.ParsePath("env"))) {
		e := &manifest.EnvVar{Pos: c.at(ev)}
		e.Description, _ = ev.LookupPath(cue.ParsePath("description")).String()
		if dv := ev.LookupPath(cue.ParsePath("default")); dv.Exists() {
			d, _ := dv.String()
			e.Default = &d
			e.Pos = c.at(dv)
		}
		if m.Env == nil {
			m.Env = map[string]*manifest.EnvVar{}
		}
		m.Env[name] = e
	}
	for name, pv := range fields(v.LookupPath(cue.ParsePath("projections"))) {
		p := &manifest.Projection{Key: c.expr(pv.LookupPath(cue.ParsePath("key"))), Columns: map[string]string{}, Pos: c.at(pv)}
		p.Mode, _ = pv.LookupPath(cue.ParsePath("mode")).String()
		for col, tv := range fields(pv.LookupPath(cue.ParsePath("columns"))) {
			p.Columns[col], _ = tv.String()
		}
		for idx, iv := range fields(pv.LookupPath(cue.ParsePath("indexes"))) {
			if p.Indexes == nil {
				p.Indexes = map[string][]string{}
			}
			var cols []string
			for _, cv := range items(iv) {
				s, _ := cv.String()
				cols = append(cols, s)
			}
			p.Indexes[idx] = cols
		}
		for event, hv := range fields(pv.LookupPath(cue.ParsePath("on"))) {
			h := manifest.ProjectionHandler{Event: event, Pos: c.at(hv)}
			if dv := hv.LookupPath(cue.ParsePath("delete")); dv.Exists() {
				h.Delete = true
			}
			for col, ev := range fields(hv.LookupPath(cue.ParsePath("upsert"))) {
				h.Upsert = append(h.Upsert, manifest.Field{Name: col, Expr: c.expr(ev)})
			}
			p.On = append(p.On, h)
		}
		sort.Slice(p.On, func(i, j int) bool { return p.On[i].Event < p.On[j].Event })
		if m.Projections == nil {
			m.Projections = map[string]*manifest.Projection{}
		}
		m.Projections[name] = p
	}
	for name, qv := range fields(v.LookupPath(cue.ParsePath("queries"))) {
		q := &manifest.Query{Params: c.schema(qv.LookupPath(cue.MakePath(cue.Def("params")))), Pos: c.at(qv)}
		q.SQL, _ = qv.LookupPath(cue.ParsePath("sql")).String()
		if m.Queries == nil {
			m.Queries = map[string]*manifest.Query{}
		}
		m.Queries[name] = q
	}
	for name, ev := range fields(v.LookupPath(cue.ParsePath("effects"))) {
		e := &manifest.Effect{Pos: c.at(ev)}
		on := ev.LookupPath(cue.ParsePath("on"))
		if on.IncompleteKind() == cue.ListKind {
			for _, ov := range items(on) {
				s, _ := ov.String()
				e.On = append(e.On, s)
			}
		} else {
			s, _ := on.String()
			e.On = []string{s}
		}
		if iv := ev.LookupPath(cue.ParsePath("if")); iv.Exists() {
			x := c.expr(iv)
			e.If = &x
		}
		e.Delivery, _ = ev.LookupPath(cue.ParsePath("delivery")).String()
		max, _ := ev.LookupPath(cue.ParsePath("retry.max")).Int64()
		e.Retry.Max = int(max)
		e.Retry.Backoff, _ = ev.LookupPath(cue.ParsePath("retry.backoff")).String()
		if sv := ev.LookupPath(cue.ParsePath("send")); sv.Exists() {
			e.Send = c.send(sv)
			if rv := sv.LookupPath(cue.ParsePath("onReject")); rv.Exists() {
				e.Send.OnReject = c.send(rv)
			}
		}
		if hv := ev.LookupPath(cue.ParsePath("http")); hv.Exists() {
			w := &manifest.Webhook{Body: c.shape(hv.LookupPath(cue.ParsePath("body"))), Pos: c.at(hv)}
			w.Method, _ = hv.LookupPath(cue.ParsePath("method")).String()
			w.URLEnv, _ = hv.LookupPath(cue.ParsePath("url.env")).String()
			w.Timeout, _ = hv.LookupPath(cue.ParsePath("timeout")).String()
			for h, xv := range fields(hv.LookupPath(cue.ParsePath("headers"))) {
				w.Headers = append(w.Headers, manifest.Field{Name: h, Expr: c.expr(xv)})
			}
			e.HTTP = w
		}
		if (e.Send == nil) == (e.HTTP == nil) {
			c.fail(ev, "effect %s needs exactly one of send and http", name)
		}
		if m.Effects == nil {
			m.Effects = map[string]*manifest.Effect{}
		}
		m.Effects[name] = e
	}
}

func (c *compilation) send(v cue.Value) *manifest.Send {
	s := &manifest.Send{ID: c.expr(v.LookupPath(cue.ParsePath("id"))), Payload: c.shape(v.LookupPath(cue.ParsePath("payload"))), Pos: c.at(v)}
	s.Aggregate, _ = v.LookupPath(cue.ParsePath("aggregate")).String()
	s.Command, _ = v.LookupPath(cue.ParsePath("command")).String()
	return s
}
