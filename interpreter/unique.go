package interpreter

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/cuesource/cuesource/manifest"
)

// Unique is a compiled unique constraint of an aggregate.
type Unique struct {
	Name     string
	key      *expression
	claims   map[string]bool // event types that claim a key
	releases map[string]bool // event types that release the held key
}

// Claims reports whether events of type t claim a key of u.
func (u *Unique) Claims(t string) bool { return u.claims[t] }

// Releases reports whether events of type t release u's held key.
func (u *Unique) Releases(t string) bool { return u.releases[t] }

// Key gives the key an event claims, from its payload as readers see it
// (after its lenses). ok is false when the key is null or "": the event
// claims nothing. A key is a string or an integer (written in decimal);
// anything else is an error of the context's.
func (u *Unique) Key(payload any, b *Budget) (key string, ok bool, err error) {
	v, err := u.key.run(&Env{Event: payload, Budget: b})
	if err != nil {
		return "", false, err
	}
	switch x := v.(type) {
	case nil:
		return "", false, nil
	case string:
		return x, x != "", nil
	case int:
		return strconv.Itoa(x), true, nil
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10), true, nil
		}
	}
	return "", false, u.key.fail(fmt.Errorf("the key of unique %s must be a string or an integer, not %s", u.Name, typeName(v)))
}

// Lookup is reference data a command reads before it is decided: the rows
// of a named query, or the state of another instance.
type Lookup struct {
	Name string
	// Query names the query (its params are built by Params); "" for an
	// instance look-up.
	Query string
	// Aggregate names the aggregate of an instance look-up (its id is
	// built by ID).
	Aggregate string
	params    shape
	id        *expression
}

// Params builds the query's parameters; they see `cmd` and `caller`.
func (l *Lookup) Params(env *Env) (map[string]any, error) {
	v, err := l.params.build(env, map[string]any{})
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

// ID builds the id of the instance an instance look-up reads.
func (l *Lookup) ID(env *Env) (string, error) {
	v, err := l.id.run(env)
	if err != nil {
		return "", err
	}
	return idString(l.id, v, "a look-up's id")
}

// NewID builds the id the server gives an instance the command makes,
// from its payload; ok is false when the aggregate declares no newId (the
// server then makes a UUIDv7).
func (c *Command) NewID(env *Env) (id string, ok bool, err error) {
	if c.newID == nil {
		return "", false, nil
	}
	v, err := c.newID.run(env)
	if err != nil {
		return "", false, err
	}
	id, err = idString(c.newID, v, "newId")
	return id, err == nil, err
}

// Creates reports whether the command may make a new instance: POST
// /{aggregate}/{command} addresses it without an id.
func (c *Command) Creates() bool { return c.Instance != manifest.InstanceExisting }

func idString(x *expression, v any, what string) (string, error) {
	switch id := v.(type) {
	case string:
		return id, nil
	case int:
		return strconv.Itoa(id), nil
	}
	return "", x.fail(fmt.Errorf("%s must be a string or a number, not %s", what, typeName(v)))
}

// unique compiles an aggregate's unique constraints: each key expression
// is checked against the payload of every event that claims it.
func (c *compiler) unique(a *Aggregate, m *manifest.Aggregate) {
	for _, mu := range m.Unique {
		c.name("unique constraint", mu.Name, mu.Pos)
		u := &Unique{Name: mu.Name, claims: map[string]bool{}, releases: map[string]bool{}}
		known := func(list []string, field string, into map[string]bool) {
			for _, en := range list {
				if _, ok := m.Events[en]; !ok {
					c.errs.Add(mu.Pos, "unique %s: %s names unknown event %s (aggregate %s declares %s)", mu.Name, field, en, a.Name, strings.Join(sortedKeys(m.Events), ", "))
					continue
				}
				into[en] = true
			}
		}
		known(mu.ClaimedBy, "claimedBy", u.claims)
		known(mu.ReleasedBy, "releasedBy", u.releases)
		for en := range u.claims {
			if u.releases[en] {
				c.errs.Add(mu.Pos, "unique %s: event %s both claims and releases the key", mu.Name, en)
			}
		}
		// The key is type-checked against each claiming event and compiled
		// once, with the last: it runs for whichever event claims.
		var x *expression
		events := slices.Sorted(maps.Keys(u.claims))
		for i, en := range events {
			e := env{event: a.eventTypes[en], noMeta: true}
			var t reflect.Type
			if i < len(events)-1 {
				if c.check == nil {
					continue // nothing to check before the compile
				}
				var ok bool
				if t, ok = c.check(c, mu.Key, e, false); !ok {
					break
				}
			} else if x, t = c.compile(mu.Key, e, false); x == nil {
				break
			}
			if k := kind(t); !fits(k, "string") && !fits(k, "integer") {
				c.errs.Add(mu.Key.Pos, "unique %s: the key must be a string or an integer, but for %s it gives %s", mu.Name, en, k)
				x = nil
				break
			}
		}
		if x == nil {
			continue
		}
		u.key = x
		a.Unique = append(a.Unique, u)
	}
}

// QueryColumn is a column of a query's result with the type SQL declares
// for it ("" for a column it declares none for, such as an expression).
type QueryColumn struct{ Name, Decl string }

// CheckLookups type-checks the commands of m that look up query rows
// again, each row typed by its query's result columns (cols, which only
// SQL knows: package projections prepares the queries), and lists every
// expression that reads a column the query does not answer or uses one
// as another type. A query absent from cols keeps untyped rows.
func CheckLookups(m *manifest.Manifest, cols map[string][]QueryColumn) error {
	v := vet()
	v.queryColumns = cols
	_, err := compile(m, v)
	return err
}

// rowType is the type of a row of a query's result: its columns by name,
// typed as SQL declares them.
func (c *compiler) rowType(query string) reflect.Type {
	cols, ok := c.queryColumns[query]
	if !ok || c.structs == nil {
		return reflect.TypeOf([]map[string]any{})
	}
	var fields []reflect.StructField
	for i, col := range cols {
		t := reflect.TypeOf((*any)(nil)).Elem()
		switch col.Decl {
		case "TEXT":
			t = reflect.TypeOf("")
		case "INTEGER":
			t = reflect.TypeOf(0)
		case "REAL":
			t = reflect.TypeOf(0.0)
		}
		fields = append(fields, reflect.StructField{Name: fmt.Sprintf("C%d", i), Type: t, Tag: reflect.StructTag(fmt.Sprintf(`expr:%q json:%q`, col.Name, col.Name))})
	}
	return reflect.SliceOf(c.structs(c.typer, fields, "a row of query "+query))
}

// lookups compiles a command's look-ups; what an instance look-up gives
// is the other aggregate's state, typed from stateTypes.
func (c *compiler) lookups(cmd *Command, mc *manifest.Command, e env, aggregates map[string]*manifest.Aggregate, stateTypes map[string]reflect.Type, queries map[string]*manifest.Query) reflect.Type {
	if len(mc.Lookup) == 0 {
		return nil
	}
	var fields []reflect.StructField
	for _, ml := range mc.Lookup {
		l := &Lookup{Name: ml.Name, Query: ml.Query, Aggregate: ml.Aggregate}
		var t reflect.Type
		switch {
		case ml.Query != "":
			q, ok := queries[ml.Query]
			if !ok {
				c.errs.Add(ml.Pos, "lookup %s: unknown query %s (the context declares %s)", ml.Name, ml.Query, orNone(sortedKeys(queries)))
				continue
			}
			l.params = c.shape(manifest.Shape{Fields: ml.Params}, e, c.schema(q.Params, q.Pos), "query "+ml.Query+"'s params")
			t = c.rowType(ml.Query)
		default:
			if _, ok := aggregates[ml.Aggregate]; !ok {
				c.errs.Add(ml.Pos, "lookup %s: unknown aggregate %s (the context declares %s)", ml.Name, ml.Aggregate, orNone(sortedKeys(aggregates)))
				continue
			}
			if ml.ID == nil {
				c.errs.Add(ml.Pos, "lookup %s: an instance look-up needs an id", ml.Name)
				continue
			}
			x, it := c.compile(*ml.ID, e, false)
			if x == nil {
				continue
			}
			if k := kind(it); !fits(k, "string") && !fits(k, "integer") {
				c.errs.Add(ml.ID.Pos, "lookup %s: the id must be a string or a number, but the expression gives %s", ml.Name, k)
			}
			l.id = x
			t = stateTypes[ml.Aggregate]
		}
		cmd.Lookups = append(cmd.Lookups, l)
		if t == nil {
			t = reflect.TypeOf((*any)(nil)).Elem()
		}
		fields = append(fields, reflect.StructField{
			Name: "F_" + ml.Name, Type: t, Tag: reflect.StructTag(fmt.Sprintf(`expr:%q json:%q`, ml.Name, ml.Name)),
		})
	}
	if c.structs == nil || len(fields) == 0 {
		return nil
	}
	return c.structs(c.typer, fields, "lookup")
}

func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// lookupTypes types every aggregate's state for the instance look-ups
// that read it (vetting only, and only when a command declares one).
func (c *compiler) lookupTypes(m *manifest.Manifest) {
	if c.types == nil {
		return
	}
	for _, a := range m.Aggregates {
		for _, cmd := range a.Commands {
			for _, l := range cmd.Lookup {
				if l.Aggregate == "" || c.stateTypes[l.Aggregate] != nil {
					continue
				}
				if other, ok := m.Aggregates[l.Aggregate]; ok {
					if c.stateTypes == nil {
						c.stateTypes = map[string]reflect.Type{}
					}
					c.stateTypes[l.Aggregate] = c.typeOf(c.schema(other.State, other.Pos), "the state of "+l.Aggregate)
				}
			}
		}
	}
}
