package interpreter

import (
	"encoding/json"
	"maps"
	"reflect"

	"github.com/cuesource/cuesource/manifest"
)

// Auth is a context's compiled identity rules (see manifest.Auth).
type Auth struct {
	Manifest   *manifest.Auth
	claims     validator
	meta       []declaredField // the context's declared metadata
	allow      []*Check        // the context's
	Log        []*Check
	aggregates map[string]*aggregateRules
	queries    map[string]*QueryRules
}

type aggregateRules struct {
	allow, read []*Check
	commands    map[string]*commandRules
}

type commandRules struct {
	allow     []*Check
	anonymous bool
	meta      []declaredField
}

// QueryRules are a query's rules and the parameters bound from the
// caller.
type QueryRules struct {
	Allow     []*Check
	Anonymous bool
	Bind      []Bound
}

// Bound is a query parameter set from the caller.
type Bound struct {
	Name string
	x    *expression
}

// Value is the parameter's value for the caller in env.
func (b Bound) Value(env *Env) (any, error) { return b.x.run(env) }

// CheckClaims validates verified claims against #claims.
func (a *Auth) CheckClaims(claims any) []Violation { return a.claims.validate(claims) }

// Verdict is what the rules say of a request.
type Verdict struct {
	Allowed bool
	// Rule names the rule a denial answers with: the first of the most
	// specific rules that applied ("" when no rule applies at all).
	Rule string
	// Status is the HTTP status of a denied read: 403, or 404 when a
	// read rule asks that a denied read look like a missing instance.
	Status int
}

// first holds when any of the rules holds; a rule that fails to
// evaluate (a missing claim) does not allow.
func anyHolds(rules []*Check, env *Env) (bool, error) {
	for _, r := range rules {
		ok, err := r.Holds(env)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func denied(levels ...[]*Check) Verdict {
	for _, l := range levels {
		if len(l) > 0 {
			return Verdict{Rule: l[0].Name, Status: 403}
		}
	}
	return Verdict{Status: 403}
}

// MayRun says whether the caller in env (with cmd, state and meta set)
// may run command on aggregate: the command is anonymous, or any allow
// rule of the command, the aggregate or the context holds.
func (a *Auth) MayRun(aggregate, command string, env *Env, anonymous bool) (Verdict, error) {
	ar := a.aggregates[aggregate]
	var cmdRules, aggRules []*Check
	if ar != nil {
		aggRules = ar.allow
		if cr := ar.commands[command]; cr != nil {
			if cr.anonymous {
				return Verdict{Allowed: true}, nil
			}
			cmdRules = cr.allow
		}
	}
	if anonymous {
		return denied(cmdRules, aggRules, a.allow), nil
	}
	for _, l := range [][]*Check{cmdRules, aggRules, a.allow} {
		ok, err := anyHolds(l, env)
		if err != nil || ok {
			return Verdict{Allowed: ok}, err
		}
	}
	return denied(cmdRules, aggRules, a.allow), nil
}

// Anonymous reports whether anyone may run command without a token.
func (a *Auth) Anonymous(aggregate, command string) bool {
	if ar := a.aggregates[aggregate]; ar != nil {
		if cr := ar.commands[command]; cr != nil {
			return cr.anonymous
		}
	}
	return false
}

// MayRead says whether the caller in env (state and meta set) may read
// an instance of aggregate.
func (a *Auth) MayRead(aggregate string, env *Env) (Verdict, error) {
	ar := a.aggregates[aggregate]
	if ar == nil || len(ar.read) == 0 {
		return Verdict{Status: 403}, nil
	}
	ok, err := anyHolds(ar.read, env)
	if err != nil || ok {
		return Verdict{Allowed: ok}, err
	}
	v := Verdict{Rule: ar.read[0].Name, Status: 403}
	for _, r := range ar.read {
		if r.Status == 404 {
			v.Status = 404
		}
	}
	return v, nil
}

// Query is a query's rules; nil when it has none (then it is denied).
func (a *Auth) Query(name string) *QueryRules { return a.queries[name] }

// MayQuery says whether the caller in env may run query name.
func (a *Auth) MayQuery(name string, env *Env, anonymous bool) (Verdict, error) {
	q := a.queries[name]
	if q == nil {
		return Verdict{Status: 403}, nil
	}
	if q.Anonymous {
		return Verdict{Allowed: true}, nil
	}
	if !anonymous {
		ok, err := anyHolds(q.Allow, env)
		if err != nil || ok {
			return Verdict{Allowed: ok}, err
		}
	}
	return denied(q.Allow), nil
}

// MayReadLog says whether the caller in env may read the global log.
func (a *Auth) MayReadLog(env *Env, anonymous bool) (Verdict, error) {
	if !anonymous {
		ok, err := anyHolds(a.Log, env)
		if err != nil || ok {
			return Verdict{Allowed: ok}, err
		}
	}
	return denied(a.Log), nil
}

// auth compiles the context's auth: #claims, and every rule against the
// environment where it is evaluated, so vet reports a rule that reads a
// claim #claims does not declare, with its position.
func (c *compiler) auth(m *manifest.Manifest, p *Program) {
	ma := m.Auth
	if ma == nil {
		return
	}
	a := &Auth{Manifest: ma, meta: c.meta, aggregates: map[string]*aggregateRules{}, queries: map[string]*QueryRules{}}
	if ma.SecretEnv == "" && ma.JWKSURL == "" && len(ma.JWKS) == 0 {
		c.errs.Add(ma.Pos, "auth: name where keys come from: secretEnv (HS256), jwks: {url} or jwks: {keys}")
	}
	a.claims = c.claims.validator()
	caller := c.caller
	a.allow = c.ruleChecks(ma.Allow, env{caller: caller})
	a.Log = c.ruleChecks(ma.Log, env{caller: caller})
	for _, name := range sortedKeys(ma.Aggregates) {
		mr := ma.Aggregates[name]
		agg, ok := p.Aggregates[name]
		if !ok {
			c.errs.Add(ma.Pos, "auth: rules for unknown aggregate %s", name)
			continue
		}
		state := c.typeOf(agg.stateSchema, "state")
		ar := &aggregateRules{commands: map[string]*commandRules{}}
		ar.allow = c.ruleChecks(mr.Allow, env{caller: caller, state: state})
		for _, r := range mr.Read {
			if r.Status != 0 && r.Status != 403 && r.Status != 404 {
				c.errs.Add(r.Expr.Pos, "%s: a denied read answers 403 or 404, not %d", r.Name, r.Status)
			}
		}
		ar.read = c.ruleChecks(mr.Read, env{caller: caller, state: state})
		for _, cn := range sortedKeys(mr.Commands) {
			cr := mr.Commands[cn]
			if _, ok := agg.Commands[cn]; !ok {
				c.errs.Add(ma.Pos, "auth: rules for unknown command %s.%s", name, cn)
				continue
			}
			cmd := c.typeOf(agg.commandSchemas[cn], "cmd")
			rules := &commandRules{anonymous: cr.Anonymous, allow: c.ruleChecks(cr.Allow, env{caller: caller, state: state, cmd: cmd})}
			for _, f := range cr.Meta {
				if !c.declared[f.Name] {
					continue
				}
				if x, _ := c.compile(f.Expr, env{caller: caller, cmd: cmd}, false); x != nil {
					rules.meta = append(rules.meta, declaredField{name: f.Name, x: x})
				}
			}
			ar.commands[cn] = rules
		}
		a.aggregates[name] = ar
	}
	for _, name := range sortedKeys(ma.Queries) {
		mq := ma.Queries[name]
		q, ok := p.Queries[name]
		if !ok {
			c.errs.Add(ma.Pos, "auth: rules for unknown query %s", name)
			continue
		}
		qr := &QueryRules{Anonymous: mq.Anonymous, Allow: c.ruleChecks(mq.Allow, env{caller: caller})}
		for _, f := range mq.Bind {
			if _, declared := q.doc.property(f.Name); !declared {
				c.errs.Add(f.Expr.Pos, "bind: query %s has no parameter %s (#params declares %s)", name, f.Name, fieldList(q.doc))
				continue
			}
			x, t := c.compile(f.Expr, env{caller: caller}, false)
			if x == nil {
				continue
			}
			if k := kind(t); k == "object" || k == "array" {
				c.errs.Add(f.Expr.Pos, "bind: %s must give a string, number or boolean, not %s", f.Name, k)
			}
			qr.Bind = append(qr.Bind, Bound{Name: f.Name, x: x})
		}
		a.queries[name] = qr
	}
	p.Auth = a
}

// ruleChecks compiles rules: boolean expressions, like guards.
func (c *compiler) ruleChecks(named []manifest.Named, e env) []*Check {
	var out []*Check
	for _, n := range named {
		if x, _ := c.compile(n.Expr, e, true); x != nil {
			out = append(out, &Check{Name: n.Name, Status: n.Status, expression: *x})
		}
	}
	return out
}

// KindForbidden: the caller may not run the command (no allow rule
// holds); the rejection names the rule.
const KindForbidden Kind = "forbidden"

// callerType compiles #claims, before the aggregates whose guards and
// emits may read caller; nil (and caller unknown to them) without auth.
func (c *compiler) callerType(m *manifest.Manifest) reflect.Type {
	if m.Auth == nil {
		return nil
	}
	c.claims = c.schema(m.Auth.Claims, m.Auth.Pos)
	// A token carries claims #claims does not name (iat, jti, ...), so
	// #claims is open; rules are typed by the claims it names, so that
	// vet reports caller.subb.
	typed := c.claims
	if typed.doc != nil {
		typed.doc = maps.Clone(typed.doc)
		delete(typed.doc, "additionalProperties")
	}
	return c.typeOf(typed, "caller")
}

// Recorded is the metadata every event of a context with auth records
// (store.Event.Meta): who did it, the process it belongs to (the
// correlation id: the first command's id, carried on by every send) and
// what caused it (the command's id, or for a command an effect sent, the
// triggering event's id).
type Recorded struct {
	Actor         string `json:"actor"`
	CorrelationID string `json:"correlationId"`
	CausationID   string `json:"causationId"`
	// Declared is the context's declared metadata (auth's and the
	// command's meta), written beside the fields above.
	Declared map[string]any `json:"-"`
}

// ReadRecorded reads an event's recorded metadata; the zero Recorded for
// an event without (one written without auth).
func ReadRecorded(raw []byte) Recorded {
	var r Recorded
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r)
	}
	return r
}

// With returns m with r's fields set.
func (m Meta) With(r Recorded) Meta {
	m.Actor, m.CorrelationID, m.CausationID, m.Declared = r.Actor, r.CorrelationID, r.CausationID, r.Declared
	return m
}

// scenarioAs checks a scenario's identities against #claims; without
// auth, a scenario cannot act as anyone.
func (c *compiler) scenarioAs(m *manifest.Manifest, s *manifest.Scenario) {
	check := func(raw json.RawMessage, pos manifest.Pos) {
		if raw == nil {
			return
		}
		if m.Auth == nil {
			c.errs.Add(pos, "as: the context declares no auth, so there is no caller to act as")
			return
		}
		var claims any
		_ = json.Unmarshal(raw, &claims)
		if vs := c.claims.validator().validate(claims); len(vs) > 0 {
			c.errs.Add(pos, "as does not fit auth.#claims: %s", vs[0])
		}
	}
	check(s.As, s.Pos)
	for _, w := range s.When {
		check(w.As, w.Pos)
	}
	for _, g := range s.Given {
		check(g.As, g.Pos)
	}
}

// knownRule reports whether a scenario may expect name as a denial: the
// kind forbidden, or a rule that applies to the aggregate's commands.
func knownRule(a *manifest.Auth, aggregate, name string) bool {
	if a == nil {
		return false
	}
	if name == string(KindForbidden) {
		return true
	}
	has := func(rules []manifest.Named) bool {
		for _, r := range rules {
			if r.Name == name {
				return true
			}
		}
		return false
	}
	if has(a.Allow) {
		return true
	}
	if ar := a.Aggregates[aggregate]; ar != nil {
		if has(ar.Allow) {
			return true
		}
		for _, cr := range ar.Commands {
			if has(cr.Allow) {
				return true
			}
		}
	}
	return false
}
