package api

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Event reads show every event as the context reads it now: by its current
// name, at its current version, through the lenses. ?raw=true shows the
// events as stored, with the name and version they were written with;
// ?pin=aggregate.Event@N shows that event type at version N, through its
// down lenses, for a consumer written against an older version.

// view is how a request wants events shown.
type view struct {
	raw  bool
	pins map[[2]string]int // (aggregate, current event name) -> version
}

// viewParams reads ?raw and ?pin.
func (s *Service) viewParams(q url.Values) (view, *Response) {
	bad := func(name, format string, args ...any) (view, *Response) {
		r := problemWith(statusBadRequest, "invalid_parameter", fmt.Sprintf(format, args...), map[string]any{"parameter": name})
		return view{}, &r
	}
	var v view
	switch q.Get("raw") {
	case "", "false":
	case "true":
		v.raw = true
	default:
		return bad("raw", "query parameter raw must be true or false, got %q", q.Get("raw"))
	}
	for _, list := range q["pin"] {
		for _, pin := range strings.Split(list, ",") {
			ref, n, ok := strings.Cut(strings.TrimSpace(pin), "@")
			agg, ev, ok2 := strings.Cut(ref, ".")
			version, err := strconv.Atoi(n)
			if !ok || !ok2 || err != nil {
				return bad("pin", "pin must be aggregate.Event@version, got %q", pin)
			}
			a := s.prog.Aggregates[agg]
			if a == nil || a.Event(ev) == nil {
				return bad("pin", "pin %q names no event of the context", pin)
			}
			e := a.Event(ev)
			if version < 0 || version > e.Version() {
				return bad("pin", "pin %q: %s has versions 0 to %d", pin, e.Name, e.Version())
			}
			if !e.CanDowncast(version) {
				return bad("pin", "pin %q: %s has no down lenses from version %d to %d", pin, e.Name, e.Version(), version)
			}
			if v.pins == nil {
				v.pins = map[[2]string]int{}
			}
			v.pins[[2]string{agg, e.Name}] = version
		}
	}
	if v.raw && v.pins != nil {
		return bad("pin", "raw=true shows events as stored; it cannot be pinned")
	}
	return v, nil
}

// current rewrites stored events as the context reads them now (or as
// pins ask), in place.
func current(p *interpreter.Program, evs []store.Event, pins map[[2]string]int) error {
	for i := range evs {
		e := &evs[i]
		var err error
		if et, pin, ok := pinOf(p, pins, e); ok {
			err = readPinned(et, pin, e)
		} else {
			e.Type, e.SchemaVersion, e.Payload, err = p.ReadJSON(e.Aggregate, e.Type, e.SchemaVersion, e.Payload)
		}
		if err != nil {
			return fmt.Errorf("event %s (%s.%s at position %d): %w", e.ID, e.Aggregate, e.Type, e.Position, err)
		}
	}
	return nil
}

// pinOf returns the event type of e and the version a pin asks for it.
func pinOf(p *interpreter.Program, pins map[[2]string]int, e *store.Event) (*interpreter.Event, int, bool) {
	if len(pins) == 0 {
		return nil, 0, false
	}
	a := p.Aggregates[e.Aggregate]
	if a == nil || a.Event(e.Type) == nil {
		return nil, 0, false
	}
	et := a.Event(e.Type)
	pin, ok := pins[[2]string{e.Aggregate, et.Name}]
	return et, pin, ok
}

// readPinned rewrites e at the pinned version: as written when stored at
// it, else up to the current version and down to the pin, decoded once.
func readPinned(et *interpreter.Event, pin int, e *store.Event) error {
	e.Type = et.Name
	if e.SchemaVersion == pin {
		return nil
	}
	v, err := value.DecodeStored(e.Payload)
	if err == nil {
		v, err = et.Upcast(e.SchemaVersion, v)
	}
	if err == nil {
		v, err = et.Downcast(pin, v)
	}
	if err == nil {
		e.Payload, err = value.Encode(v)
	}
	e.SchemaVersion = pin
	return err
}

// show answers the events as the view asks, or the problem of one that
// the lenses cannot read.
func (s *Service) show(evs []store.Event, v view) *Response {
	if v.raw {
		return nil
	}
	if err := current(s.prog, evs, v.pins); err != nil {
		r := problemWith(statusInternalServerError, "lens_failed",
			err.Error()+"; ?raw=true shows the events as stored, and `cuesource lens check` finds every such event",
			nil)
		return &r
	}
	return nil
}
