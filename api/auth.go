package api

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Identifier verifies a token and gives its claims; an error that has a
// TokenReason() string method says why it was refused (auth.Verifier's
// do). The API does not import the verifier, so a runtime that verifies
// otherwise links none of it.
type Identifier interface {
	Verify(ctx context.Context, token string) (map[string]any, error)
}

// queryTokens are query parameters a token may be sent in by clients
// that should not: URLs are logged and cached, so they are refused.
var queryTokens = []string{"access_token", "token", "jwt", "id_token"}

// identify finds who sends r in a context with auth, once per request: a
// verified caller, an anonymous one (no token), or nil for a static token
// (the server's --token or admin token: machines, to which the rules do
// not apply: a trusted caller named "token" or "admin"). A token that does not verify is a 401.
func (s *Service) identify(ctx context.Context, r *Request) (*cuesource.Caller, *Response) {
	a := s.prog.Auth.Manifest
	for _, k := range queryTokens {
		if r.Query.Has(k) {
			return nil, invalidToken("token_in_query", fmt.Sprintf("a token in the query string (%s) is refused: URLs are logged; send it in the %s header", k, a.Header))
		}
	}
	switch {
	case Bearer(r.Header, s.opt.AdminToken):
		return &cuesource.Caller{Actor: "admin", Trusted: true, Claims: map[string]any{"sub": "admin"}}, nil
	case Bearer(r.Header, s.opt.Token):
		return &cuesource.Caller{Actor: "token", Trusted: true, Claims: map[string]any{"sub": "token"}}, nil
	}
	var tok string
	if strings.EqualFold(a.Header, "Authorization") || a.Header == "" {
		h := r.Header.Get("Authorization")
		scheme, t, _ := strings.Cut(h, " ")
		if h != "" && !strings.EqualFold(scheme, "Bearer") {
			return nil, invalidToken("malformed", "Authorization must be Bearer <token>")
		}
		tok = strings.TrimLeft(t, " ")
	} else {
		tok = r.Header.Get(a.Header)
	}
	if tok == "" {
		return &cuesource.Caller{Actor: "anonymous", Anonymous: true}, nil
	}
	if s.opt.Identity == nil {
		resp := internal(errors.New("the context declares auth, but the server was started without a token verifier"))
		return nil, &resp
	}
	claims, err := s.opt.Identity.Verify(ctx, tok)
	if err != nil {
		var why interface{ TokenReason() string }
		if errors.As(err, &why) && why.TokenReason() == "keys_unavailable" {
			// The keys could not be fetched: the server's trouble, not the
			// token's.
			r := problemWith(statusServiceUnavailable, "keys_unavailable", err.Error(), nil)
			r.Header.Set("Retry-After", "5")
			return nil, &r
		}
		if errors.As(err, &why) {
			return nil, invalidToken(why.TokenReason(), err.Error())
		}
		resp := internal(err)
		return nil, &resp
	}
	if vs := s.prog.Auth.CheckClaims(claims); len(vs) > 0 {
		// Where, not what: a violation's message could quote a value.
		var at []string
		for _, v := range vs {
			at = append(at, v.Pointer)
		}
		return nil, invalidToken("invalid_claims", "the token's claims do not fit the context's #claims at "+strings.Join(at, ", "))
	}
	sub, _ := claims["sub"].(string)
	if sub == "" {
		return nil, invalidToken("invalid_claims", "the token has no sub")
	}
	return &cuesource.Caller{Actor: sub, Claims: claims}, nil
}

// invalidToken is the 401 of a token that was sent but does not verify
// (RFC 6750, section 3.1): the reason is a fixed word, the detail never a
// claim value.
func invalidToken(reason, detail string) *Response {
	r := problemWith(statusUnauthorized, "invalid_token", detail, map[string]any{"reason": reason})
	r.Header.Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+reason+`"`)
	return &r
}

func forbidden(rule, detail string) *Response {
	ext := map[string]any{}
	if rule != "" {
		ext["name"] = rule
		detail += ": " + rule
	}
	r := problemWith(statusForbidden, string(engine.KindForbidden), detail, ext)
	return &r
}

// needsToken is the 401 of an anonymous caller on what no rule opens to
// anyone.
func needsToken() *Response {
	r := unauthorized("this needs a bearer token")
	return &r
}

// ruleFailed: a rule that cannot be evaluated for this caller (it reads a
// claim the caller lacks) does not allow.
const ruleFailed = "a rule could not be evaluated for this caller"

// mayRead checks the read rules of c's aggregate for c's caller on the
// instance's state (one load): nil when allowed, else 401, 403 or the
// 404 a missing instance answers, as the rule declares.
func (s *Service) mayRead(ctx context.Context, c *call) *Response {
	if c.caller == nil || c.caller.Trusted {
		return nil
	}
	if c.caller.Anonymous {
		return needsToken()
	}
	inst, err := s.backend.Load(ctx, c.agg, c.id)
	if err != nil {
		resp := internal(err)
		return &resp
	}
	missing := problem(statusNotFound, string(engine.KindInstanceMissing), fmt.Sprintf("%s %s does not exist", c.agg, c.id))
	if inst.Version == 0 {
		return &missing
	}
	st, err := decodeState(inst)
	if err != nil {
		resp := internal(err)
		return &resp
	}
	env := &interpreter.Env{State: st, Caller: c.caller.Claims, Meta: interpreter.Meta{Aggregate: c.agg, AggregateID: c.id, Version: int(inst.Version)}}
	v, err := s.prog.Auth.MayRead(c.agg, env)
	switch {
	case err != nil:
		return forbidden("", "reading "+c.agg+" "+c.id+" is not allowed: "+ruleFailed)
	case v.Allowed:
		return nil
	case v.Status == statusNotFound:
		return &missing
	}
	return forbidden(v.Rule, fmt.Sprintf("reading %s %s is not allowed for this caller", c.agg, c.id))
}

// mayReadLog checks the log rules for a caller of GET /events and its
// stream.
func (s *Service) mayReadLog(caller *cuesource.Caller) *Response {
	if caller == nil || caller.Trusted {
		return nil
	}
	if caller.Anonymous {
		return needsToken()
	}
	v, err := s.prog.Auth.MayReadLog(&interpreter.Env{Caller: caller.Claims}, false)
	switch {
	case err != nil:
		return forbidden("", "reading the log is not allowed: "+ruleFailed)
	case !v.Allowed:
		return forbidden(v.Rule, "reading the log is not allowed for this caller")
	}
	return nil
}

// mayQuery checks a query's rules and returns the query string with the
// parameters bound from the caller set (a client that sets one is
// refused).
func (s *Service) mayQuery(name string, c *call) (url.Values, *Response) {
	if c.caller == nil || c.caller.Trusted {
		return c.r.Query, nil
	}
	rules := s.prog.Auth.Query(name)
	if c.caller.Anonymous && (rules == nil || !rules.Anonymous) {
		return nil, needsToken()
	}
	env := &interpreter.Env{Caller: c.caller.Claims}
	v, err := s.prog.Auth.MayQuery(name, env, c.caller.Anonymous)
	switch {
	case err != nil:
		return nil, forbidden("", "query "+name+" is not allowed: "+ruleFailed)
	case !v.Allowed:
		return nil, forbidden(v.Rule, "query "+name+" is not allowed for this caller")
	}
	if rules == nil || len(rules.Bind) == 0 {
		return c.r.Query, nil
	}
	q := url.Values{}
	for k, vs := range c.r.Query {
		q[k] = vs
	}
	for _, b := range rules.Bind {
		if q.Has(b.Name) {
			r := problemWith(statusBadRequest, "invalid_parameter", fmt.Sprintf("query parameter %s is set from the caller's identity; a request cannot set it", b.Name), map[string]any{"parameter": b.Name})
			return nil, &r
		}
		if c.caller.Anonymous {
			continue
		}
		val, err := b.Value(env)
		if err != nil || val == nil {
			return nil, forbidden("", "query "+name+" is not allowed: parameter "+b.Name+" could not be bound for this caller")
		}
		q.Set(b.Name, paramText(val))
	}
	return q, nil
}

func decodeState(inst store.Instance) (any, error) { return value.DecodeStored(inst.State) }

// paramText is a bound value as a query string would carry it.
func paramText(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func recordedOf(meta []byte) *interpreter.Recorded {
	r := interpreter.ReadRecorded(meta)
	return &r
}
