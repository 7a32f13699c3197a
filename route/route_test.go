package route

import (
	"slices"
	"strings"
	"testing"
)

// The names the routes take, as the compiler refuses them.
func TestReserved(t *testing.T) {
	want := []string{"admin", "context", "events", "healthz", "openapi", "projections", "queries"}
	if got := Reserved(); !slices.Equal(got, want) {
		t.Fatalf("Reserved() = %v, want %v", got, want)
	}
	for name, want := range map[string]bool{"events": true, "history": false, "Open": false} {
		if got := ReservedCommand(name); got != want {
			t.Errorf("ReservedCommand(%q) = %v, want %v", name, got, want)
		}
	}
}

// A shared route passes the methods it does not answer on; a route that
// is not answers them 405; an integer parameter is checked as soon as the
// path reaches it.
func TestFind(t *testing.T) {
	for _, c := range []struct {
		method, path, route string
		allowed, badInt     bool
	}{
		{"GET", "/cart/c1/history", "instance.history", true, false},
		{"POST", "/cart/c1/history", "command", true, false},
		{"PUT", "/cart/c1/history", "command", false, false},
		{"POST", "/cart/c1/events", "instance.events", false, false},
		{"POST", "/projections/a", "", false, false},
		{"GET", "/events/x", "instance", true, false},
		{"GET", "/admin/dead-letters/x/y", "deadLetters.discard", false, true},
		{"DELETE", "/admin/dead-letters/7", "deadLetters.discard", true, false},
		{"GET", "/admin/x", "", false, false},
		// A create shares its path with the instance: POST makes one, the
		// other methods are the instance's.
		{"POST", "/cart/Open", "create", true, false},
		{"GET", "/cart/Open", "instance", true, false},
		{"DELETE", "/cart/Open", "instance", false, false},
		// By key: four and five segments, which no other route takes; an
		// instance called "by" keeps its routes.
		{"GET", "/cart/by/perClient/c-1", "instance.byKey", true, false},
		{"POST", "/cart/by/perClient/c-1", "instance.byKey", false, false},
		{"POST", "/cart/by/perClient/c-1/CheckOut", "command.byKey", true, false},
		{"GET", "/cart/by", "instance", true, false},
		{"POST", "/cart/by/CheckOut", "command", true, false},
		{"GET", "/cart/by/events", "instance.events", true, false},
	} {
		segs := splitPath(c.path)
		m := Find(segs, c.method)
		name := ""
		if m.Route != nil {
			name = m.Route.Name
		}
		if name != c.route || m.Allowed != c.allowed || m.BadInt != c.badInt {
			t.Errorf("%s %s: route %q allowed %v badInt %v, want %q %v %v", c.method, c.path, name, m.Allowed, m.BadInt, c.route, c.allowed, c.badInt)
		}
	}
	if got := Named("deadLetters.retry").Key(); got != "/admin/dead-letters/{id}/retry" {
		t.Errorf("Key() = %q", got)
	}
}

func splitPath(p string) []string { return strings.Split(strings.TrimPrefix(p, "/"), "/") }
