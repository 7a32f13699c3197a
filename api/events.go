package api

import (
	"fmt"
	"net/url"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
)

// Event reads show every event as the context reads it now: by its current
// name, at its current version, through the lenses. ?raw=true shows the
// events as stored, with the name and version they were written with.

// rawParam reads ?raw.
func rawParam(q url.Values) (bool, *Response) {
	switch q.Get("raw") {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	r := problemWith(statusBadRequest, "invalid_parameter",
		fmt.Sprintf("query parameter raw must be true or false, got %q", q.Get("raw")), map[string]any{"parameter": "raw"})
	return false, &r
}

// Current rewrites stored events as the context reads them now, in place.
func Current(p *interpreter.Program, evs []store.Event) error {
	for i := range evs {
		e := &evs[i]
		typ, v, payload, err := p.ReadJSON(e.Aggregate, e.Type, e.SchemaVersion, e.Payload)
		if err != nil {
			return fmt.Errorf("event %s (%s.%s at position %d): %w", e.ID, e.Aggregate, e.Type, e.Position, err)
		}
		e.Type, e.SchemaVersion, e.Payload = typ, v, payload
	}
	return nil
}

// current answers the events as readers see them, or the problem of one
// that the lenses cannot read.
func (s *Service) current(evs []store.Event, raw bool) *Response {
	if raw {
		return nil
	}
	if err := Current(s.prog, evs); err != nil {
		r := problemWith(statusInternalServerError, "lens_failed",
			err.Error()+"; ?raw=true shows the events as stored, and `cuesource lens check` finds every such event",
			nil)
		return &r
	}
	return nil
}
