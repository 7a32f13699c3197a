package interpreter

import (
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/retention"
)

// retention resolves the declared retention into the policies package
// retention decides with, reporting what cannot hold at its position.
func (c *compiler) retention(m *manifest.Manifest) retention.Policies {
	var ps retention.Policies
	if m.Retention != nil {
		ps.Context = c.policy("the context", m.Retention)
		ps.HotBytes = m.Retention.HotBytes
		if ps.HotBytes < 0 {
			c.errs.Add(m.Retention.Pos, "retention.hotBytes must be above zero, not %d", ps.HotBytes)
		}
		if !ps.Context.Keeps() && ps.HotBytes == 0 {
			c.errs.Add(m.Retention.Pos, "retention declares no rule: give keepFor, keepLast, sinceSnapshot or hotBytes, or leave it out to keep every event hot")
		}
	}
	for _, name := range sortedKeys(m.Aggregates) {
		r := m.Aggregates[name].Retention
		if r == nil {
			continue
		}
		if r.HotBytes != 0 {
			c.errs.Add(r.Pos, "aggregate %s: retention.hotBytes is the context's only (the hot log is one): move it to the context's retention", name)
		}
		p := c.policy("aggregate "+name, r)
		if !p.Keeps() {
			c.errs.Add(r.Pos, "aggregate %s: retention declares no rule: give keepFor, keepLast or sinceSnapshot, or leave it out to take the context's", name)
		}
		if ps.Aggregates == nil {
			ps.Aggregates = map[string]retention.Policy{}
		}
		ps.Aggregates[name] = p
	}
	return ps
}

func (c *compiler) policy(who string, r *manifest.Retention) retention.Policy {
	p := retention.Policy{KeepLast: r.KeepLast, SinceSnapshot: r.SinceSnapshot}
	if r.KeepFor != "" {
		d, err := retention.ParseDuration(r.KeepFor)
		if err != nil {
			c.errs.Add(r.Pos, "%s: retention.keepFor: %v", who, err)
		}
		p.KeepFor = d
	}
	if r.KeepLast < 0 {
		c.errs.Add(r.Pos, "%s: retention.keepLast must be above zero, not %d", who, r.KeepLast)
	}
	return p
}
