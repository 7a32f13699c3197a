package route

import (
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Access says which token a route needs.
type Access uint8

const (
	// Token: the server's token when it has one (or the admin token).
	Token Access = iota
	// Open: no token (health checks).
	Open
	// Admin: the admin token; 404 when the server has none.
	Admin
)

// A Route is one route of the API.
type Route struct {
	// Name is the handler the api package binds to the route.
	Name string
	// Path is the pattern: literal segments and {parameters}; a parameter
	// {name:int} takes an integer only.
	Path string
	// Methods are the methods the route answers, as Allow lists them.
	Methods string
	Access  Access
	// Shared: the other methods go on to the next route the path matches
	// (GET /{aggregate}/{id}/history beside POST
	// /{aggregate}/{id}/{command}); without it the route answers them 405.
	Shared bool
	// Needs names the part of a runtime without which every path under the
	// route's leading literal segments answers 404.
	Needs string

	segs   []string
	prefix []string // the leading literal segments
}

// Table is the API's routes in the order they are matched: literal
// segments before parameters.
var Table = []*Route{
	{Name: "healthz", Path: "/healthz", Methods: "GET, HEAD", Access: Open},
	{Name: "openapi", Path: "/openapi.json", Methods: "GET, HEAD"},
	{Name: "context", Path: "/context", Methods: "GET, HEAD"},
	{Name: "diagram", Path: "/diagram.svg", Methods: "GET, HEAD"},
	{Name: "events", Path: "/events", Methods: "GET, HEAD"},
	{Name: "query", Path: "/queries/{name}", Methods: "GET, HEAD"},
	{Name: "projections", Path: "/projections", Methods: "GET, HEAD", Needs: "projections"},
	{Name: "projections.action", Path: "/projections/{name}/{action}", Methods: "POST", Access: Admin, Needs: "projections"},
	{Name: "admin.seed", Path: "/admin/seed/{aggregate}/{id}", Methods: "POST", Access: Admin},
	{Name: "admin.rehydrate", Path: "/admin/rehydrate/{aggregate}/{id}", Methods: "POST", Access: Admin},
	{Name: "admin.storage", Path: "/admin/storage", Methods: "GET, HEAD", Access: Admin, Needs: "storage"},
	// The archive as stored, for `cuesource archive verify|restore --url`.
	{Name: "admin.archive.segments", Path: "/admin/archive/segments", Methods: "GET, HEAD", Access: Admin, Needs: "archive"},
	{Name: "admin.archive.segment", Path: "/admin/archive/segments/{name}", Methods: "GET, HEAD", Access: Admin, Needs: "archive"},
	{Name: "admin.archive.objects", Path: "/admin/archive/objects", Methods: "GET, HEAD", Access: Admin, Needs: "archive"},
	{Name: "admin.projectionRow", Path: "/admin/projections/{name}/rows/{key}", Methods: "GET, HEAD", Access: Admin, Needs: "projections"},
	{Name: "deadLetters.list", Path: "/admin/dead-letters", Methods: "GET, HEAD", Access: Admin, Needs: "effects"},
	{Name: "deadLetters.discard", Path: "/admin/dead-letters/{id:int}", Methods: "DELETE", Access: Admin, Needs: "effects"},
	{Name: "deadLetters.retry", Path: "/admin/dead-letters/{id:int}/retry", Methods: "POST", Access: Admin, Needs: "effects"},
	// POST /{aggregate}/{command} makes an instance whose id the server
	// chooses; the other methods go on to the instance at that path.
	{Name: "create", Path: "/{aggregate}/{command}", Methods: "POST", Shared: true},
	{Name: "instance", Path: "/{aggregate}/{id}", Methods: "GET, HEAD"},
	{Name: "instance.events", Path: "/{aggregate}/{id}/events", Methods: "GET, HEAD"},
	{Name: "instance.history", Path: "/{aggregate}/{id}/history", Methods: "GET, HEAD", Shared: true},
	{Name: "command", Path: "/{aggregate}/{id}/{command}", Methods: "POST"},
	// An instance addressed by the unique key it holds.
	{Name: "instance.byKey", Path: "/{aggregate}/by/{constraint}/{key}", Methods: "GET, HEAD"},
	{Name: "command.byKey", Path: "/{aggregate}/by/{constraint}/{key}/{command}", Methods: "POST"},
}

func init() {
	for _, r := range Table {
		r.segs = strings.Split(r.Path[1:], "/")
		r.prefix = r.segs
		for i, s := range r.segs {
			if s[0] == '{' {
				r.prefix = r.segs[:i]
				break
			}
		}
	}
}

// Named is the route called name; it panics for a name the table lacks.
func Named(name string) *Route {
	for _, r := range Table {
		if r.Name == name {
			return r
		}
	}
	panic("route: no route " + name)
}

// Key is the route's path as OpenAPI writes it: parameters without their
// type.
func (r *Route) Key() string { return strings.ReplaceAll(r.Path, ":int}", "}") }

// Allows reports whether the route answers method.
func (r *Route) Allows(method string) bool {
	for ms := r.Methods; ms != ""; {
		var m string
		m, ms, _ = strings.Cut(ms, ", ")
		if m == method {
			return true
		}
	}
	return false
}

func param(seg string) string {
	if len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' {
		name, _, _ := strings.Cut(seg[1:len(seg)-1], ":")
		return name
	}
	return ""
}

func hasPrefix(segs, prefix []string) bool {
	if len(segs) < len(prefix) {
		return false
	}
	for i, p := range prefix {
		if segs[i] != p {
			return false
		}
	}
	return true
}

// AdminArea reports whether segs lie in an admin area: a first segment under
// which every route needs the admin token. The token is asked for before
// such a path is matched, so a caller without it learns no route.
func AdminArea(segs []string) bool {
	if len(segs) == 0 {
		return false
	}
	seen := false
	for _, r := range Table {
		if r.segs[0] == segs[0] {
			if r.Access != Admin {
				return false
			}
			seen = true
		}
	}
	return seen
}

// Needs is what the runtime must have for the routes under segs' leading
// segments ("" when nothing). Such a prefix claims its paths: Find matches
// them against its routes only.
func Needs(segs []string) string {
	if r := needs(segs); r != nil {
		return r.Needs
	}
	return ""
}

func needs(segs []string) *Route {
	for _, r := range Table {
		if r.Needs != "" && hasPrefix(segs, r.prefix) {
			return r
		}
	}
	return nil
}

// Params are a matched path's parameters by name.
type Params map[string]string

// A Match is what Find makes of a path and method.
type Match struct {
	// Route is the route the path matched; nil when it matched none.
	Route  *Route
	Params Params
	// Allowed: Route answers the method; when not, Route.Methods is the
	// Allow of the 405.
	Allowed bool
	// BadInt: the path has something else than an integer where Route has
	// an {name:int} parameter (checked as soon as the path reaches it, the
	// literals before it matching).
	BadInt bool
}

// Find matches segs (unescaped path segments) and method against the
// table. A path under an admin area or a prefix with Needs is matched
// against the routes under it only.
func Find(segs []string, method string) Match {
	var claim []string
	if AdminArea(segs) {
		claim = segs[:1]
	} else if r := needs(segs); r != nil {
		claim = r.prefix
	}
	var shared *Match
	for _, r := range Table {
		if !hasPrefix(r.segs, claim) {
			continue
		}
		ps, ok, bad := r.match(segs)
		if bad {
			return Match{Route: r, BadInt: true}
		}
		if !ok {
			continue
		}
		if r.Allows(method) {
			return Match{Route: r, Params: ps, Allowed: true}
		}
		if !r.Shared {
			return Match{Route: r, Params: ps}
		}
		if shared == nil {
			shared = &Match{Route: r, Params: ps}
		}
	}
	if shared != nil {
		return *shared
	}
	return Match{}
}

// match matches segs against r; bad reports an integer parameter with
// something else in its place, the literals before it matching.
func (r *Route) match(segs []string) (ps Params, ok, bad bool) {
	for i, s := range r.segs {
		if i >= len(segs) {
			return nil, false, false
		}
		name := param(s)
		switch {
		case name == "":
			if segs[i] != s {
				return nil, false, false
			}
			continue
		case strings.HasSuffix(s, ":int}"):
			if _, err := strconv.ParseInt(segs[i], 10, 64); err != nil {
				return nil, false, true
			}
		}
		if ps == nil {
			ps = Params{}
		}
		ps[name] = segs[i]
	}
	if len(segs) != len(r.segs) {
		return nil, false, false
	}
	return ps, true, false
}

// Reserved are the first path segments of the routes (without a file
// extension: openapi for /openapi.json), which no aggregate may be named,
// sorted. /diagram.svg reserves nothing: it came after the names were
// fixed, and an aggregate named diagram has no path of one segment.
func Reserved() []string {
	var out []string
	for _, r := range Table {
		first, _, _ := strings.Cut(r.segs[0], ".")
		if len(r.prefix) > 0 && r.Name != "diagram" && !slices.Contains(out, first) {
			out = append(out, first)
		}
	}
	sort.Strings(out)
	return out
}

// ReservedCommand reports whether an instance route takes name as its last
// segment for every method, so no command may be named so (a command
// named history is fine: that route answers GET only and passes the rest
// on).
func ReservedCommand(name string) bool {
	for _, r := range Table {
		if len(r.segs) == 3 && r.segs[0] == "{aggregate}" && r.segs[1] == "{id}" && r.segs[2] == name && !r.Shared {
			return true
		}
	}
	return false
}
