package cuesource

import (
	"errors"
	"fmt"

	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

// KeyClaims is what events (in order, their payloads as readers see them)
// do to the unique keys their instance holds: for each constraint the
// events touch, the last claim or release. A key that no URL can address
// is an error of kind invalid_key.
func KeyClaims(a *interpreter.Aggregate, events []engine.Event) ([]store.KeyClaim, error) {
	if len(a.Unique) == 0 {
		return nil, nil
	}
	var out []store.KeyClaim
	for _, u := range a.Unique {
		var last *store.KeyClaim
		for _, e := range events {
			switch {
			case u.Claims(e.Type):
				key, ok, err := u.Key(e.Payload, nil)
				if err != nil {
					return nil, err
				}
				if !ok {
					continue // a null key claims nothing
				}
				if reason := CheckID(key); reason != "" {
					return nil, &Rejection{Kind: KindInvalidKey, Constraint: u.Name, Key: key,
						Message: fmt.Sprintf("event %s would claim a key of unique %s that %s", e.Type, u.Name, reason)}
				}
				last = &store.KeyClaim{Constraint: u.Name, Key: key}
			case u.Releases(e.Type):
				last = &store.KeyClaim{Constraint: u.Name, Release: true}
			}
		}
		if last != nil {
			out = append(out, *last)
		}
	}
	return out, nil
}

// keyClaims is KeyClaims for a decision: its errors are the command's
// rejection.
func keyClaims(a *interpreter.Aggregate, events []engine.Event, req *CommandRequest) ([]store.KeyClaim, *Rejection) {
	claims, err := KeyClaims(a, events)
	if err == nil {
		return claims, nil
	}
	var rej *Rejection
	if errors.As(err, &rej) {
		return nil, rej
	}
	r := rejection(engine.ExprError(err), 0).Rejection
	r.Message = fmt.Sprintf("%s %s: %s", req.Aggregate, req.Command, r.Message)
	return nil, r
}

// UniqueViolation is the answer to a command whose commit the store
// refused with e: another instance holds a key it claims.
func UniqueViolation(e *store.UniqueError) Answer {
	return Answer{Rejection: &Rejection{Kind: KindUniqueViolation, Constraint: e.Constraint, Key: e.Key, Holder: e.Holder,
		Message: fmt.Sprintf("unique %s: the key %q is held by another %s", e.Constraint, e.Key, e.Aggregate)}}
}

// KeyNotHeld is the answer to a request addressed by a key that no
// instance holds (or that the instance it named let go of).
func KeyNotHeld(aggregate string, k KeyRef) Answer {
	return Answer{Rejection: &Rejection{Kind: KindKeyNotHeld, Constraint: k.Constraint, Key: k.Key,
		Message: fmt.Sprintf("no %s holds the key %q of unique %s", aggregate, k.Key, k.Constraint)}}
}
