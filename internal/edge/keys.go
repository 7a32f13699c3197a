package edge

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/d1"
)

// Unique keys on Workers. An instance's own storage is the truth of the
// keys it holds (held_keys, written with the events that claim or release
// them); one more object per key (named by keyObject) serialises the
// claims on it and remembers the instance it last reserved the key for.
//
// A decision that claims a key its instance does not hold writes nothing:
// its object runs the claim script, which reserves each such key at its
// object in (constraint, key) order, then decides again and commits. A
// key's object grants a reservation when it recorded no holder, or the
// claimant, or a holder that, asked, neither holds the key in its storage
// nor has a command reserving it (objects.inflight): it released the key,
// its command failed, or its runtime ended between the reservation and
// the commit, and then nothing of that command is written (the commit
// runs on the runtime that reserved, see the "transact" op). Otherwise
// the claimant is refused (unique_violation naming the holder) and
// writes nothing. A release calls nobody: the key's object learns it when
// it next asks. Holder reads the key's object and confirms with the
// instance, so a stale record answers none.

// maxClaimRounds bounds how often a claim decides again because its
// instance changed meanwhile and the new decision claims other keys.
const maxClaimRounds = 3

// keyObject is the name of the object of a key of aggregate's unique
// constraints (with the id constraint + "/" + key): not an aggregate's
// name, which has no colon.
func keyObject(aggregate string) string { return "key:" + aggregate }

// keyed says whether a command's decision reads the keys its instance
// holds: its aggregate declares unique constraints, or it was addressed
// by a key.
func keyed(p *interpreter.Program, req *cuesource.CommandRequest) bool {
	if req.Holds != nil {
		return true
	}
	a := p.Aggregates[req.Aggregate]
	return a != nil && len(a.Unique) > 0
}

// decideReads are the reads of a command's decision: the instance, its
// idempotency record (with a key), the keys it holds (when keyed).
func decideReads(p *interpreter.Program, req *cuesource.CommandRequest) []Statement {
	reads := []Statement{stmt(d1.ObjectInstance)}
	if req.IdempotencyKey != "" {
		reads = append(reads, stmt(d1.ObjectIdempotency, req.StoreKey()))
	}
	if keyed(p, req) {
		reads = append(reads, stmt(d1.ObjectHeldKeys))
	}
	return reads
}

type heldRow struct {
	Constraint string `json:"constraint_name"`
	Key        string `json:"key"`
}

// heldKeys reads the rows of d1.ObjectHeldKeys: key by constraint.
func heldKeys(rows json.RawMessage) (map[string]string, error) {
	var rs []heldRow
	if err := json.Unmarshal(rows, &rs); err != nil {
		return nil, err
	}
	held := make(map[string]string, len(rs))
	for _, r := range rs {
		held[r.Constraint] = r.Key
	}
	return held, nil
}

// keyChanges splits a commit's claims: the keys it needs reserved first
// (claimed, not held, not reserved), sorted, and otherwise the writes that
// keep what it does to the keys held.
func keyChanges(claims []store.KeyClaim, held map[string]string, reserved []store.KeyClaim) (need []store.KeyClaim, writes []Statement) {
	for _, k := range claims {
		cur, holds := held[k.Constraint]
		switch {
		case k.Release:
			if holds {
				writes = append(writes, stmt(d1.ObjectReleaseKey, k.Constraint))
			}
		case holds && cur == k.Key:
		case slices.Contains(reserved, k):
			writes = append(writes, stmt(d1.ObjectHoldKey, k.Constraint, k.Key))
		default:
			need = append(need, k)
		}
	}
	// By hand, not slices.SortFunc: a few claims, and its instance for
	// this type costs the wasm build 19 KB.
	for i := 1; i < len(need); i++ {
		for j := i; j > 0 && claimLess(need[j], need[j-1]); j-- {
			need[j], need[j-1] = need[j-1], need[j]
		}
	}
	return need, writes
}

func claimLess(a, b store.KeyClaim) bool {
	return a.Constraint < b.Constraint || a.Constraint == b.Constraint && a.Key < b.Key
}

// claimInput is the claim script's: the command (or the seed) and the
// keys to reserve.
type claimInput struct {
	Request wireCommand            `json:"request"`
	Seed    *cuesource.SeedRequest `json:"seed,omitempty"`
	Claims  []store.KeyClaim       `json:"claims"`
}

// seedReads are the reads of a seed's decision: the instance, and the
// keys it holds when its aggregate declares unique constraints.
func seedReads(p *interpreter.Program, aggregate string) []Statement {
	reads := []Statement{stmt(d1.ObjectInstance)}
	if a := p.Aggregates[aggregate]; a != nil && len(a.Unique) > 0 {
		reads = append(reads, stmt(d1.ObjectHeldKeys))
	}
	return reads
}

// keyInput is the key script's: a reservation of a key for a command of
// an instance.
type keyInput struct {
	Aggregate  string `json:"aggregate"`
	Constraint string `json:"constraint"`
	Key        string `json:"key"`
	Instance   string `json:"instance"`
	Command    string `json:"command"`
}

// keyAnswer is the key script's answer: the holder that keeps the key, or
// none (reserved).
type keyAnswer struct {
	Holder string `json:"holder,omitempty"`
}

// claim runs on an instance's object a command whose decision claims keys
// the instance does not hold: it reserves them, then decides again and
// commits through the "transact" op. Its answer is the Transacted of that
// last decision (its writes done), or the refusal.
func (c *Core) claim(in []byte, h *host) (any, error) {
	var ci claimInput
	if err := decodeInput(in, &ci); err != nil {
		return nil, err
	}
	var aggregate, id, command string
	switch {
	case ci.Seed != nil:
		aggregate, id, command = ci.Seed.Aggregate, ci.Seed.ID, ci.Seed.CommandID
	case ci.Request.CommandRequest != nil:
		req := ci.Request.CommandRequest
		aggregate, id, command = req.Aggregate, req.ID, req.CommandID
	default:
		return nil, &Fault{Kind: "input", Message: "claim: no request"}
	}
	inst := aggregate + "/" + id
	// One claim at a time per instance, so what it is reserving is known
	// until it commits.
	defer c.objects.lock("claim:" + inst)()
	var reserved []store.KeyClaim
	defer func() {
		for _, k := range reserved {
			c.objects.reserve(inst, k, -1)
		}
	}()
	pending := ci.Claims
	for round := 1; ; round++ {
		for _, k := range pending {
			c.objects.reserve(inst, k, 1) // before the call: an ask during it sees it
			reserved = append(reserved, k)
			var r keyAnswer
			arg := map[string]any{"script": "key", "input": keyInput{Aggregate: aggregate, Constraint: k.Constraint,
				Key: k.Key, Instance: id, Command: command}}
			if err := h.do(Op{Kind: "object", Aggregate: keyObject(aggregate), ID: k.Constraint + "/" + k.Key, Method: "runScript", Arg: arg}, &r); err != nil {
				return nil, err
			}
			if err := c.stopClaim(h, "reserved"); err != nil {
				return nil, err
			}
			if r.Holder != "" {
				return Transacted{Answer: cuesource.UniqueViolation(&store.UniqueError{Aggregate: aggregate,
					Constraint: k.Constraint, Key: k.Key, Holder: r.Holder})}, nil
			}
		}
		var t Transacted
		var arg transact
		if ci.Seed != nil {
			arg = transact{Fn: "seed", Reads: seedReads(c.prog, aggregate), Input: seedInput{Request: *ci.Seed, Reserved: reserved}}
		} else {
			req := ci.Request.request()
			arg = transact{Fn: "decide", Reads: decideReads(c.prog, req), Input: decideInput{Request: ci.Request, Reserved: reserved}}
		}
		if err := h.do(Op{Kind: "transact", Arg: arg}, &t); err != nil {
			return nil, err
		}
		if err := c.stopClaim(h, "committed"); err != nil {
			return nil, err
		}
		if t.Reserve == nil {
			t.Writes = nil // written
			return t, nil
		}
		if round == maxClaimRounds {
			return Transacted{Answer: cuesource.Answer{Rejection: &cuesource.Rejection{Kind: cuesource.KindConcurrentWrite,
				Message: "the instance kept changing while this command reserved its unique keys; retry it"}}}, nil
		}
		pending = t.Reserve.Claims
	}
}

// reserve counts a key an instance's command is reserving (n = 1) or no
// longer (n = -1).
func (s *objects) reserve(inst string, k store.KeyClaim, n int) {
	id := inst + "\x00" + k.Constraint + "\x00" + k.Key
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inflight[id] += n; s.inflight[id] <= 0 {
		delete(s.inflight, id)
	}
}

func (s *objects) reserving(inst, constraint, key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inflight[inst+"\x00"+constraint+"\x00"+key] > 0
}

// key runs on a key's object: it reserves the key for a command of an
// instance, unless the instance it last reserved it for, asked, still
// holds it or is reserving it.
func (c *Core) key(in []byte, h *host) (any, error) {
	var ki keyInput
	if err := decodeInput(in, &ki); err != nil {
		return nil, err
	}
	// One reservation at a time per key.
	defer c.objects.lock("key:" + ki.Aggregate + "/" + ki.Constraint + "/" + ki.Key)()
	o := &object{h: h}
	var rows []struct {
		Instance string `json:"instance"`
	}
	if err := o.sql(&rows, d1.KeyHolder); err != nil {
		return nil, err
	}
	if len(rows) > 0 && rows[0].Instance != ki.Instance {
		var holds bool
		t := transact{Fn: "holds", Reads: []Statement{stmt(d1.ObjectHeldKeys)},
			Input: map[string]string{"aggregate": ki.Aggregate, "id": rows[0].Instance, "constraint": ki.Constraint, "key": ki.Key}}
		if err := h.transact(ki.Aggregate, rows[0].Instance, t, &holds); err != nil {
			return nil, err
		}
		if holds {
			return keyAnswer{Holder: rows[0].Instance}, nil
		}
	}
	if err := o.sql(nil, d1.KeySetHolder, ki.Instance, ki.Command); err != nil {
		return nil, err
	}
	return keyAnswer{}, nil
}

type holdsInput struct {
	Aggregate  string            `json:"aggregate"`
	ID         string            `json:"id"`
	Constraint string            `json:"constraint"`
	Key        string            `json:"key"`
	Rows       []json.RawMessage `json:"rows"` // the keys held
}

// holds answers a key's object, inside the instance's transaction: does
// the instance hold the key, or is a command of its reserving it?
func (c *Core) holds(in []byte) (any, error) {
	var hi holdsInput
	if err := decodeInput(in, &hi); err != nil {
		return nil, err
	}
	if len(hi.Rows) != 1 {
		return nil, &Fault{Kind: "input", Message: "holds: want the keys held"}
	}
	held, err := heldKeys(hi.Rows[0])
	if err != nil {
		return nil, err
	}
	k, ok := held[hi.Constraint]
	return Transacted{Answer: ok && k == hi.Key || c.objects.reserving(hi.Aggregate+"/"+hi.ID, hi.Constraint, hi.Key)}, nil
}

// Holder is api.Keys: the instance the key's object last reserved the key
// for, if its storage says it holds it.
func (b *backend) Holder(_ context.Context, aggregate, constraint, key string) (string, bool, error) {
	var rec [][]struct {
		Instance string `json:"instance"`
	}
	if err := b.object(keyObject(aggregate), constraint+"/"+key, transact{Reads: []Statement{stmt(d1.KeyHolder)}}, &rec); err != nil {
		return "", false, err
	}
	if len(rec) != 1 || len(rec[0]) == 0 {
		return "", false, nil
	}
	id := rec[0][0].Instance
	var held [][]heldRow
	if err := b.object(aggregate, id, transact{Reads: []Statement{stmt(d1.ObjectHeldKeys)}}, &held); err != nil {
		return "", false, err
	}
	if len(held) == 1 && slices.Contains(held[0], heldRow{Constraint: constraint, Key: key}) {
		return id, true, nil
	}
	return "", false, nil
}
