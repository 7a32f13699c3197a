package compiler

import (
	"time"

	"slices"
	"strings"

	"cuelang.org/go/cue"

	"github.com/cuesource/cuesource/manifest"
)

// auth reads the context's auth and every rule written on the context,
// its aggregates, commands and queries into one manifest.Auth; nil when
// the context declares none (the manifest then has no auth at all).
func (c *compilation) auth(m *manifest.Manifest, v cue.Value) {
	av := v.LookupPath(cue.ParsePath("auth"))
	a := &manifest.Auth{Pos: c.at(av), Aggregates: map[string]*manifest.AggregateAuth{}, Queries: map[string]*manifest.Rules{}}
	str := func(v cue.Value, name string) string {
		s, _ := v.LookupPath(cue.ParsePath(name)).String()
		return s
	}
	a.SecretEnv, a.Issuer, a.Audience, a.Header = str(av, "secretEnv"), str(av, "issuer"), str(av, "audience"), str(av, "header")
	if jv := av.LookupPath(cue.ParsePath("jwks")); jv.Exists() {
		if u := str(jv, "url"); u != "" {
			a.JWKSURL = u
			if rv := jv.LookupPath(cue.ParsePath("refresh")); rv.Exists() {
				a.JWKSRefresh = str(jv, "refresh")
				if _, err := time.ParseDuration(a.JWKSRefresh); err != nil {
					c.fail(rv, "jwks.refresh: %v", err)
				}
			}
		} else {
			a.JWKS = c.json(jv)
		}
	}
	for _, x := range items(av.LookupPath(cue.ParsePath("algorithms"))) {
		s, _ := x.String()
		a.Algorithms = append(a.Algorithms, s)
	}
	if av.Exists() {
		a.Claims = c.schema(av.LookupPath(cue.MakePath(cue.Def("claims"))))
	}
	a.Log = c.named(av.LookupPath(cue.ParsePath("log")))
	a.Allow = c.named(v.LookupPath(cue.ParsePath("allow")))
	a.Meta = c.fieldList(v.LookupPath(cue.ParsePath("meta")))
	rules := a.Allow != nil || a.Log != nil || a.Meta != nil
	for name, agv := range fields(v.LookupPath(cue.ParsePath("aggregates"))) {
		ag := &manifest.AggregateAuth{
			Allow:    c.named(agv.LookupPath(cue.ParsePath("allow"))),
			Read:     c.named(agv.LookupPath(cue.ParsePath("read"))),
			Commands: map[string]*manifest.Rules{},
		}
		for cn, cv := range fields(agv.LookupPath(cue.ParsePath("commands"))) {
			if r := c.rules(cv); r != nil {
				ag.Commands[cn] = r
			}
		}
		if len(ag.Commands) == 0 {
			ag.Commands = nil
		}
		if ag.Allow != nil || ag.Read != nil || ag.Commands != nil {
			a.Aggregates[name] = ag
			rules = true
		}
	}
	for name, qv := range fields(v.LookupPath(cue.ParsePath("queries"))) {
		if r := c.rules(qv); r != nil {
			a.Queries[name] = r
			rules = true
		}
	}
	if !av.Exists() {
		if rules {
			c.fail(v, "rules (allow, read, anonymous, bind) or meta are written, but there is no auth to say who the caller is: declare auth")
		}
		return
	}
	if len(a.Aggregates) == 0 {
		a.Aggregates = nil
	}
	if len(a.Queries) == 0 {
		a.Queries = nil
	}
	m.Auth = a
}

// rules reads a command's or a query's allow, anonymous and bind; nil
// when it has none.
func (c *compilation) rules(v cue.Value) *manifest.Rules {
	r := &manifest.Rules{Allow: c.named(v.LookupPath(cue.ParsePath("allow")))}
	r.Anonymous, _ = v.LookupPath(cue.ParsePath("anonymous")).Bool()
	for name, bv := range fields(v.LookupPath(cue.ParsePath("bind"))) {
		r.Bind = append(r.Bind, manifest.Field{Name: name, Expr: c.expr(bv)})
	}
	r.Meta = c.fieldList(v.LookupPath(cue.ParsePath("meta")))
	if r.Allow == nil && !r.Anonymous && r.Bind == nil && r.Meta == nil {
		return nil
	}
	return r
}

// fieldList reads {name: expression} fields in name order; nil when there
// are none.
func (c *compilation) fieldList(v cue.Value) []manifest.Field {
	var out []manifest.Field
	for name, fv := range fields(v) {
		out = append(out, manifest.Field{Name: name, Expr: c.expr(fv)})
	}
	slices.SortFunc(out, func(a, b manifest.Field) int { return strings.Compare(a.Name, b.Name) })
	return out
}
