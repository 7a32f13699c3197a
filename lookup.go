package cuesource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// LookupReader is what a command's look-ups read: the rows of a named
// query (run as the context's own read, whoever the caller) and the
// stored state of an instance.
type LookupReader interface {
	Query(ctx context.Context, name string, params map[string]any) ([]map[string]any, error)
	Load(ctx context.Context, aggregate, id string) (store.Instance, error)
}

// Readers makes a LookupReader of two functions (a runtime's read models'
// Query and its backend's Load).
type Readers struct {
	QueryFunc func(ctx context.Context, name string, params map[string]any) ([]map[string]any, error)
	LoadFunc  func(ctx context.Context, aggregate, id string) (store.Instance, error)
}

func (r Readers) Query(ctx context.Context, name string, params map[string]any) ([]map[string]any, error) {
	if r.QueryFunc == nil {
		return nil, errors.New("this runtime has no read models")
	}
	return r.QueryFunc(ctx, name, params)
}

func (r Readers) Load(ctx context.Context, aggregate, id string) (store.Instance, error) {
	return r.LoadFunc(ctx, aggregate, id)
}

// LookupError is a look-up that could not be read (503 lookup_failed):
// its query failed or ran out of time, its instance could not be loaded,
// or its parameters could not be built.
type LookupError struct {
	Command, Lookup string
	Err             error
}

func (e *LookupError) Error() string {
	return fmt.Sprintf("look-up %s of %s: %v", e.Lookup, e.Command, e.Err)
}

func (e *LookupError) Unwrap() error { return e.Err }

// ReadLookups reads what req's command looks up, before the command is
// decided (outside its instance's writer: eventually consistent), and
// sets req.Lookups. A command without look-ups, or whose payload does not
// decode or fit its schema, reads nothing: Decide then rejects the
// payload as it would anyway. Parameters and ids are built from the
// payload with its defaults and the caller's claims. An instance look-up
// whose instance does not exist (or whose id could not address one)
// reads null.
func ReadLookups(ctx context.Context, p *interpreter.Program, req *CommandRequest, r LookupReader) error {
	a := p.Aggregates[req.Aggregate]
	if a == nil {
		return nil
	}
	cmd := a.Commands[req.Command]
	if cmd == nil || len(cmd.Lookups) == 0 {
		return nil
	}
	payload, err := engine.DecodePayload(req.Payload, req.Limits)
	if err != nil {
		return nil
	}
	payload = cmd.WithDefaults(payload)
	if len(cmd.Validate(payload)) > 0 {
		return nil
	}
	env := &interpreter.Env{Cmd: payload, Budget: interpreter.NewBudget()}
	if req.Caller != nil {
		env.Caller = req.Caller.Claims
	}
	out := make(map[string]any, len(cmd.Lookups))
	for _, l := range cmd.Lookups {
		fail := func(err error) error { return &LookupError{Command: req.Command, Lookup: l.Name, Err: err} }
		if l.Query != "" {
			q := p.Queries[l.Query]
			if q == nil {
				return fail(fmt.Errorf("no query %s", l.Query))
			}
			params, err := l.Params(env)
			if err != nil {
				return fail(err)
			}
			params, vs := q.Fill(params)
			if len(vs) > 0 {
				return fail(fmt.Errorf("the parameters do not fit query %s's #params: %s %s", l.Query, vs[0].Pointer, vs[0].Message))
			}
			rows, err := r.Query(ctx, l.Query, params)
			if err != nil {
				return fail(err)
			}
			// Rows hold what the database driver gives (int64 and the
			// like); the decision reads values as decoded JSON, like
			// every other input.
			if rows == nil {
				rows = []map[string]any{}
			}
			b, err := json.Marshal(rows)
			if err != nil {
				return fail(err)
			}
			list, err := value.DecodeStored(b)
			if err != nil {
				return fail(err)
			}
			out[l.Name] = list
			continue
		}
		id, err := l.ID(env)
		if err != nil {
			return fail(err)
		}
		out[l.Name] = nil
		if CheckID(id) != "" {
			continue // no instance has such an id
		}
		inst, err := r.Load(ctx, l.Aggregate, id)
		if err != nil {
			return fail(err)
		}
		if inst.Version == 0 {
			continue
		}
		st, err := value.DecodeStored(inst.State)
		if err != nil {
			return fail(err)
		}
		out[l.Name] = st
	}
	req.Lookups = out
	return nil
}
