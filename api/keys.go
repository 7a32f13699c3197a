package api

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
)

// execute reads the look-ups of req's command, runs it and answers it: a
// unique_violation names its holder only to a caller who may read it.
func (s *Service) execute(ctx context.Context, c *call, req *cuesource.CommandRequest) Response {
	if bad := s.readLookups(ctx, req); bad != nil {
		return *bad
	}
	a, err := s.backend.Execute(ctx, req)
	if err != nil {
		return internal(err)
	}
	if rej := a.Rejection; rej != nil && rej.Kind == cuesource.KindUniqueViolation && rej.Holder != "" && c.caller != nil && !c.caller.Trusted {
		if s.mayRead(ctx, &call{r: c.r, a: c.a, agg: req.Aggregate, id: rej.Holder, caller: c.caller}) != nil {
			hidden := *rej
			hidden.Holder = ""
			a.Rejection = &hidden
		}
	}
	return Answer(a, req.Aggregate, req.ID)
}

// readLookups reads what req's command looks up (cuesource.ReadLookups):
// queries through the read models, as the context's own read, and
// instances through the backend. A look-up that cannot be read answers
// 503 lookup_failed, naming it.
func (s *Service) readLookups(ctx context.Context, req *cuesource.CommandRequest) *Response {
	rd := cuesource.Readers{LoadFunc: s.backend.Load}
	if s.opt.ReadModels != nil {
		rd.QueryFunc = s.opt.ReadModels.Query
	}
	err := cuesource.ReadLookups(ctx, s.prog, req, rd)
	if err == nil {
		return nil
	}
	var le *cuesource.LookupError
	if !errors.As(err, &le) {
		r := internal(err)
		return &r
	}
	r := problemWith(statusServiceUnavailable, "lookup_failed",
		fmt.Sprintf("%s %s could not read its look-up %s: %v", req.Aggregate, req.Command, le.Lookup, le.Err),
		map[string]any{"lookup": le.Lookup})
	r.Header.Set("Retry-After", "1")
	return &r
}

// create answers POST /{aggregate}/{command}: a command that makes an
// instance, whose id the server chooses (the aggregate's newId over the
// payload, else a UUIDv7).
func (s *Service) create(ctx context.Context, c *call) Response {
	// POST on an instance's path: only a command that makes instances
	// goes there; anything else is a method the instance does not answer.
	cmd := c.a.Commands[c.p["command"]]
	if cmd == nil || !cmd.Creates() {
		var creating []string
		for _, name := range slices.Sorted(maps.Keys(c.a.Commands)) {
			if c.a.Commands[name].Creates() {
				creating = append(creating, name)
			}
		}
		r := methodNotAllowed("GET, HEAD")
		if len(creating) > 0 {
			r = problem(statusMethodNotAllowed, "method_not_allowed", fmt.Sprintf("this route answers GET, HEAD; POST /%s/{command} makes a %s with %s", c.agg, c.agg, strings.Join(creating, " or ")))
			r.Header.Set("Allow", "GET, HEAD")
		}
		return r
	}
	id, bad := s.newID(c, cmd)
	if bad != nil {
		return *bad
	}
	c.id = id
	req, bad := s.commandRequest(ctx, c, cmd)
	if bad != nil {
		return *bad
	}
	return s.execute(ctx, c, req)
}

// newID is the id of the instance a create makes. With newId, it comes
// from the payload (a payload that does not decode or fit gets a UUID:
// the command is refused for it anyway). Without, a UUIDv7 of the
// command's time; with an Idempotency-Key, an id made from the key (and
// the aggregate, command and caller), so a retry addresses the same
// instance and gets the first answer.
func (s *Service) newID(c *call, cmd *interpreter.Command) (string, *Response) {
	if payload, err := engine.DecodePayload(c.r.Body, s.opt.Limits); err == nil {
		payload = cmd.WithDefaults(payload)
		if len(cmd.Validate(payload)) == 0 {
			env := &interpreter.Env{Cmd: payload, Budget: interpreter.NewBudget()}
			id, ok, err := cmd.NewID(env)
			if err != nil {
				r := problem(statusUnprocessableEntity, string(engine.KindExpression), fmt.Sprintf("the newId of %s: %v", c.agg, err))
				return "", &r
			}
			if ok {
				if reason := cuesource.CheckID(id); reason != "" {
					r := problem(statusBadRequest, string(cuesource.KindInvalidID), fmt.Sprintf("the id newId makes of this payload (%q) %s", id, reason))
					return "", &r
				}
				return id, nil
			}
		}
	}
	if key := c.r.Header.Get("Idempotency-Key"); key != "" {
		actor := ""
		if c.caller != nil {
			actor = c.caller.Actor
		}
		return keyedID(c.agg, cmd.Name, actor, key), nil
	}
	return uuidV7(s.now(), s.opt.NewID()), nil
}

// uuidV7 is a UUID version 7 (RFC 9562): the time's Unix milliseconds,
// then 74 bits taken from random, a random UUID (the runtime's NewID, so a
// replayed request gets the same id).
func uuidV7(t time.Time, random string) string {
	var b [16]byte
	r, _ := hex.DecodeString(strings.ReplaceAll(random, "-", ""))
	if len(r) < 16 {
		sum := sha256.Sum256([]byte(random))
		r = sum[:]
	}
	copy(b[:], r[:16])
	ms := uint64(t.UnixMilli())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(b[0:6], ts[2:8])
	return cuesource.UUID(b, 7)
}

// keyedID is a UUID version 8 (RFC 9562, name-based with SHA-256) of an
// idempotent create's scope: one id per aggregate, command, caller and key.
func keyedID(aggregate, command, actor, key string) string {
	h := sha256.New()
	for _, f := range []string{aggregate, command, actor, key} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	var b [16]byte
	copy(b[:], h.Sum(nil))
	return cuesource.UUID(b, 8)
}

// holder resolves the key c's route names to the instance that holds it:
// 404 unknown_constraint for a constraint the aggregate does not declare,
// 404 key_not_held when no instance holds the key.
func (s *Service) holder(ctx context.Context, c *call) (cuesource.KeyRef, *Response) {
	k := cuesource.KeyRef{Constraint: c.p["constraint"], Key: c.p["key"]}
	known := false
	for _, u := range c.a.Unique {
		known = known || u.Name == k.Constraint
	}
	if !known {
		names := make([]string, 0, len(c.a.Unique))
		for _, u := range c.a.Unique {
			names = append(names, u.Name)
		}
		have := "none"
		if len(names) > 0 {
			have = strings.Join(names, ", ")
		}
		r := problemWith(statusNotFound, "unknown_constraint", fmt.Sprintf("aggregate %s has no unique constraint %q (it has %s)", c.agg, k.Constraint, have),
			map[string]any{"constraint": k.Constraint})
		return k, &r
	}
	keys, ok := s.backend.(Keys)
	if !ok {
		r := problem(statusNotFound, "not_found", "this runtime does not find instances by key")
		return k, &r
	}
	notHeld := func() (cuesource.KeyRef, *Response) {
		r := Answer(cuesource.KeyNotHeld(c.agg, k), c.agg, "")
		return k, &r
	}
	if cuesource.CheckID(k.Key) != "" {
		return notHeld() // no instance can hold it
	}
	id, held, err := keys.Holder(ctx, c.agg, k.Constraint, k.Key)
	if err != nil {
		r := internal(err)
		return k, &r
	}
	if !held {
		return notHeld()
	}
	c.id = id
	return k, nil
}

// instanceByKey answers GET /{aggregate}/by/{constraint}/{key} as GET
// /{aggregate}/{id} answers for the instance holding the key. A caller
// who may not read it learns what a key no one holds gives.
func (s *Service) instanceByKey(ctx context.Context, c *call) Response {
	k, bad := s.holder(ctx, c)
	if bad != nil {
		return *bad
	}
	if bad := s.mayRead(ctx, c); bad != nil {
		if bad.Status == statusUnauthorized {
			return *bad
		}
		return Answer(cuesource.KeyNotHeld(c.agg, k), c.agg, "")
	}
	return located(s.instance(ctx, c), c)
}

// located gives an answer about the instance a key addressed its path
// (Content-Location), so the client learns the id: what to retry a
// command by once the instance may have let go of the key.
func located(r Response, c *call) Response {
	if r.Status/100 == 2 || r.Status == statusNotModified {
		if r.Header == nil {
			r.Header = Header{}
		}
		r.Header.Set("Content-Location", InstancePath(c.agg, c.id))
	}
	return r
}

// commandByKey answers POST /{aggregate}/by/{constraint}/{key}/{command}:
// the command runs on the instance holding the key, and only while it
// holds it (the backend checks under the instance's writer).
func (s *Service) commandByKey(ctx context.Context, c *call) Response {
	cmd, bad := s.commandOf(c)
	if bad != nil {
		return *bad
	}
	k, bad := s.holder(ctx, c)
	if bad != nil {
		return *bad
	}
	req, bad := s.commandRequest(ctx, c, cmd)
	if bad != nil {
		return *bad
	}
	req.Holds = &k
	return located(s.execute(ctx, c, req), c)
}
