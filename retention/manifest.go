package retention

import (
	"github.com/cuesource/cuesource/diag"
	"github.com/cuesource/cuesource/manifest"
)

// Declared reports whether the manifest declares a retention anywhere.
func Declared(m *manifest.Manifest) bool {
	if m.Retention != nil {
		return true
	}
	for _, a := range m.Aggregates {
		if a.Retention != nil {
			return true
		}
	}
	return false
}

// Of reads the policies a manifest declares, reporting at its position
// whatever cannot hold (a diag.List): a duration that does not parse, a
// count or budget below one, a retention without a rule, a budget on an
// aggregate. With none declared every event stays hot.
func Of(m *manifest.Manifest) (Policies, error) {
	var errs diag.List
	var ps Policies
	if r := m.Retention; r != nil {
		ps.Context = policy(&errs, "retention", r)
		ps.HotBytes = r.HotBytes
		if ps.HotBytes < 0 {
			errs.Add(r.Pos, "retention.hotBytes must be above zero, not %d", ps.HotBytes)
		}
		if !rules(r) && ps.HotBytes == 0 {
			errs.Add(r.Pos, "retention declares no rule: give keepFor, keepLast, sinceSnapshot or hotBytes, or leave it out to keep every event hot")
		}
	}
	for name, a := range m.Aggregates {
		r := a.Retention
		if r == nil {
			continue
		}
		if r.HotBytes != 0 {
			errs.Add(r.Pos, "aggregate %s: retention.hotBytes is the context's only (the hot log is one): move it to the context's retention", name)
		}
		p := policy(&errs, "aggregate "+name+": retention", r)
		if !rules(r) {
			errs.Add(r.Pos, "aggregate %s: retention declares no rule: give keepFor, keepLast or sinceSnapshot, or leave it out to take the context's", name)
		}
		if ps.Aggregates == nil {
			ps.Aggregates = map[string]Policy{}
		}
		ps.Aggregates[name] = p
	}
	errs.Sort()
	return ps, errs.Err()
}

func policy(errs *diag.List, who string, r *manifest.Retention) Policy {
	p := Policy{KeepLast: r.KeepLast, SinceSnapshot: r.SinceSnapshot}
	if r.KeepFor != "" {
		d, err := ParseDuration(r.KeepFor)
		if err != nil {
			errs.Add(r.Pos, "%s.keepFor: %v", who, err)
		}
		p.KeepFor = d
	}
	if r.KeepLast < 0 {
		errs.Add(r.Pos, "%s.keepLast must be above zero, not %d", who, r.KeepLast)
	}
	return p
}

// rules reports whether r writes a keep rule (valid or not).
func rules(r *manifest.Retention) bool { return r.KeepFor != "" || r.KeepLast != 0 || r.SinceSnapshot }
