package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/route"
	"github.com/cuesource/cuesource/value"
)

// Facts are what the API does that the document states and the program
// does not say.
type Facts struct {
	MaxPage     int    // the largest page a read returns
	MaxHistory  int    // the most steps a history answers
	ProblemType string // the URI prefix of the problem types
}

// Build describes the routes the API answers for p as an OpenAPI 3.1
// document. OpenAPI 3.1 schemas are JSON Schema 2020-12, the dialect of the
// manifest, so the context's own schemas are embedded as they are. The
// document is built from maps and encoded with sorted keys, so the same
// context always gives the same bytes.
func Build(p *interpreter.Program, f Facts) []byte {
	m := p.Manifest
	b := &builder{p: p, m: m, f: f, paths: map[string]any{}, retains: retention.Declared(m),
		aggregates: slices.Sorted(maps.Keys(m.Aggregates)),
		schemas: map[string]any{
			"Problem":      problemSchema(f),
			"Event":        eventSchema,
			"DecidedEvent": decidedEventSchema,
			"Drift":        driftSchema,
		}}
	for _, name := range b.aggregates {
		b.aggregate(name, m.Aggregates[name])
	}
	b.log()
	b.health()
	b.admin()
	readSide(m, b.add, b.schemas)
	doc := b.document()
	b.withAuth(doc)
	out, err := value.Encode(doc)
	if err != nil {
		panic(err) // maps, slices, strings, numbers and valid JSON only
	}
	return out
}

// builder gathers the document's paths and schemas.
type builder struct {
	p          *interpreter.Program
	m          *manifest.Manifest
	f          Facts
	aggregates []string // sorted
	schemas    map[string]any
	paths      map[string]any
	retains    bool // the context declares retention: GET /admin/storage is documented
}

// add merges operations into path items: a command named "events" shares
// its path with GET /{aggregate}/{id}/events.
func (b *builder) add(at where, o map[string]any) {
	item, _ := b.paths[at.path].(map[string]any)
	if item == nil {
		item = map[string]any{}
		b.paths[at.path] = item
	}
	item[at.method] = o
}

// aggregate adds an aggregate's schemas, its commands and its reads.
func (b *builder) aggregate(name string, a *manifest.Aggregate) {
	// Names are namespaced by kind: a command and an event may share
	// a name, and their schemas must not.
	b.schemas[name+".state"] = embedded(name+".state", a.State)
	for ev, e := range a.Events {
		b.schemas[name+".event."+ev] = embedded(name+".event."+ev, e.Payload)
	}
	for cmd, c := range a.Commands {
		b.schemas[name+".command."+cmd] = embedded(name+".command."+cmd, c.Payload)
		b.add(routePath("command", "aggregate", name, "command", cmd), command(b.p, name, cmd, a, c, addressed{}))
		if c.Instance != manifest.InstanceExisting {
			b.add(routePath("create", "aggregate", name, "command", cmd), command(b.p, name, cmd, a, c, addressed{create: true}))
		}
		for _, u := range a.Unique {
			if c.Instance != manifest.InstanceNew {
				b.add(routePath("command.byKey", "aggregate", name, "constraint", u.Name, "command", cmd), command(b.p, name, cmd, a, c, addressed{constraint: u.Name}))
			}
		}
	}
	for _, u := range a.Unique {
		b.add(routePath("instance.byKey", "aggregate", name, "constraint", u.Name), op(name+".by."+u.Name, "Read the "+name+" holding a "+u.Name+" key",
			"The instance that holds the key under the unique constraint "+u.Name+", answered as GET /"+name+"/{id} answers it (its id, version, state and ETag). "+
				"HEAD answers the same without a body.",
			[]any{keyParam, header("If-None-Match", false, "ETags (or *); when one matches the current version the answer is 304.")},
			map[string]any{
				"200": jsonBody("The instance holding the key.", object(map[string]any{
					"aggregate": map[string]any{"const": name},
					"id":        str,
					"version":   version,
					"state":     ref("schemas", name+".state"),
				}), map[string]any{"ETag": ref("headers", "ETag"), "Content-Location": contentLocation}),
				"304": map[string]any{"description": "If-None-Match matches the current version.", "headers": etagHeader},
				"401": ref("responses", "Unauthorized"),
				"404": problem("key_not_held: no instance holds the key (or the caller may not read the one that does)."),
			}))
	}
	b.add(routePath("instance", "aggregate", name), op(name+".get", "Read a "+name,
		"The instance's state, its version and its ETag. HEAD answers the same without a body.",
		[]any{ref("parameters", "id"), header("If-None-Match", false,
			"ETags (or *); when one matches the current version the answer is 304.")},
		map[string]any{
			"200": jsonBody("The instance.", object(map[string]any{
				"aggregate": map[string]any{"const": name},
				"id":        str,
				"version":   version,
				"state":     ref("schemas", name+".state"),
			}), etagHeader),
			"304": map[string]any{"description": "If-None-Match matches the current version.", "headers": etagHeader},
			"400": problem("invalid_id: the id is longer than 256 bytes."),
			"401": ref("responses", "Unauthorized"),
			"404": problem("instance_missing: the instance has no events."),
		}))
	b.add(routePath("instance.events", "aggregate", name), op(name+".events", "Read a "+name+"'s events",
		"A page of the instance's events, oldest first, after version `after`; `next` is the version to pass as `after` "+
			"for the next page. A page also ends with the event that takes its payloads to 4 MiB.",
		[]any{ref("parameters", "id"), ref("parameters", "after"),
			map[string]any{"name": "limit", "in": "query", "description": "The largest number of events to return.",
				"schema": map[string]any{"type": "integer", "minimum": 1, "maximum": b.f.MaxPage, "default": b.f.MaxPage}},
			ref("parameters", "raw"), ref("parameters", "pin")},
		map[string]any{
			"200": jsonBody("The events; [] for an instance that does not exist.", b.instanceEvents(name), nil),
			"400": problem("invalid_id or invalid_parameter."),
			"401": ref("responses", "Unauthorized"),
		}))
	b.add(routePath("instance.history", "aggregate", name), op(name+".history", "Replay a "+name+" event by event",
		fmt.Sprintf("The instance replayed from its initial state as rehydration replays it: each event as stored, at each version its "+
			"lenses lead through, as read, and the state after it. A step whose event cannot be read or applied carries error and ends "+
			"the history. Events that left the hot store for the archive are read from it. At most %d steps: a longer history is "+
			"read in pages from GET /{aggregate}/{id}/events.", b.f.MaxHistory),
		[]any{ref("parameters", "id")},
		map[string]any{
			"200": jsonBody("The history.", object(map[string]any{
				"aggregate": map[string]any{"const": name},
				"id":        str,
				"version":   version,
				"initial":   ref("schemas", name+".state"),
				"steps": map[string]any{"type": "array", "maxItems": b.f.MaxHistory, "items": map[string]any{
					"type": "object", "required": []any{"event", "stored", "lenses"},
					"properties": map[string]any{
						"event":  ref("schemas", "Event"),
						"stored": map[string]any{"type": "object", "description": "The event as stored: type, schemaVersion, payload."},
						"lenses": map[string]any{"type": "array", "description": "The payload at each version from the stored one to the current.",
							"items": map[string]any{"type": "object", "properties": map[string]any{"version": map[string]any{"type": "integer"}, "payload": map[string]any{}}}},
						"state": map[string]any{"description": "The state after the event."},
						"error": map[string]any{"type": "string", "description": "Why the event could not be read or applied; the history ends here."},
					}}},
			}), nil),
			"400": problem("invalid_id: the id is longer than 256 bytes."),
			"401": ref("responses", "Unauthorized"),
			"404": problem("instance_missing: the instance has no events."),
			"422": problem(fmt.Sprintf("history_too_long: the instance has more than %d events (version, limit): read them in pages, GET /{aggregate}/{id}/events?after=.", b.f.MaxHistory)),
			"500": problem("archive_unreadable: an archived event the history needs cannot be read (the segment's positions); internal: the server failed."),
		}))
}

// instanceEvents is the schema of a page of an instance's events; with a
// retention it may say where the instance's hot history begins.
func (b *builder) instanceEvents(name string) map[string]any {
	o := object(map[string]any{
		"aggregate": map[string]any{"const": name},
		"id":        str,
		"events":    map[string]any{"type": "array", "items": ref("schemas", "Event")},
		"next":      map[string]any{"type": "integer", "minimum": 0},
	})
	if b.retains {
		o["properties"].(map[string]any)["hotFrom"] = fromJSON(hotFromProp)
	}
	return o
}

// log adds the global log's route.
func (b *builder) log() {
	b.add(routePath("events"), op("events", "Read the global log",
		"Every event of every instance in the order they were appended, by position, after position `after`; `next` is the position "+
			"to pass as `after` for the next page.\n\n"+
			"With `Accept: text/event-stream` the answer is a stream of Server-Sent Events instead: each event is one message whose id "+
			"is its position and whose data is the Event as JSON. It follows the log as it grows; a client that reconnects "+
			"with Last-Event-ID resumes after that position.",
		[]any{ref("parameters", "after"),
			map[string]any{"name": "limit", "in": "query", "description": "The largest number of events to return.",
				"schema": map[string]any{"type": "integer", "minimum": 1, "maximum": b.f.MaxPage, "default": 100}},
			header("Last-Event-ID", false, "With text/event-stream: the position to resume after (it overrides `after`)."),
			ref("parameters", "raw"), ref("parameters", "pin"),
		},
		map[string]any{
			"200": map[string]any{"description": "A page of the log, or its stream.", "content": map[string]any{
				"application/json": map[string]any{"schema": object(map[string]any{
					"events": map[string]any{"type": "array", "items": ref("schemas", "Event")},
					"next":   map[string]any{"type": "integer", "minimum": 0},
				})},
				"text/event-stream": map[string]any{"schema": str},
			}},
			"400": problem("invalid_parameter: `after` or `limit` is not an integer in range; invalid_header: Last-Event-ID is not a position."),
			"401": ref("responses", "Unauthorized"),
			"406": problem("not_acceptable: text/event-stream was asked for and this runtime does not stream the log."),
		}))
}

// health adds /healthz and the document itself.
func (b *builder) health() {
	storage := map[string]any{"type": "object", "description": "The storage faults seen since the server started, once there are any (a runtime with its own storage reports them).",
		"properties": map[string]any{
			"failing":     map[string]any{"type": "boolean", "description": "The last fault has not been followed by a write that went through."},
			"faults":      map[string]any{"type": "integer", "minimum": 0},
			"lastFault":   str,
			"lastFaultAt": map[string]any{"type": "string", "format": "date-time"},
		}}
	healthy := object(map[string]any{
		"status":  map[string]any{"const": "ok"},
		"context": map[string]any{"const": b.m.Name},
	})
	healthy["properties"].(map[string]any)["storage"] = storage // optional
	health := op("healthz", "Health", "Answers while the server runs; needs no token. HEAD answers too.", nil,
		map[string]any{
			"200": jsonBody("The server runs this context.", healthy, nil),
			"431": map[string]any{"description": "The request line and headers are over 128 KiB; the runtime answers before the API does."},
			"503": jsonBody("The server's storage fails to take writes (full, or an I/O error); it recovers by itself when the storage does.", object(map[string]any{
				"status":  map[string]any{"const": "storage_failing"},
				"context": map[string]any{"const": b.m.Name},
				"storage": storage,
			}), map[string]any{"Retry-After": map[string]any{"schema": str}}),
		})
	health["security"] = []any{}
	b.add(routePath("healthz"), health)
	b.add(routePath("openapi"), op("openapi", "This document", "", nil, map[string]any{
		"200": jsonBody("The OpenAPI document of this context.", map[string]any{"type": "object"}, nil),
		"401": ref("responses", "Unauthorized"),
	}))
}

// admin adds the admin routes: rehydrate and seed. Written as JSON (data,
// not code, in the Worker that carries this package); the aggregates are
// filled in.
func (b *builder) admin() {
	for _, o := range []struct{ route, doc string }{{"admin.rehydrate", rehydrateOp}, {"admin.seed", seedOp}} {
		op := fromJSON(o.doc)
		op["parameters"].([]any)[0].(map[string]any)["schema"] = map[string]any{"enum": b.aggregates}
		b.add(routePath(o.route), op)
	}
	if b.retains {
		b.add(routePath("admin.storage"), fromJSON(storageOp))
		b.add(routePath("admin.archive.segments"), fromJSON(archiveSegmentsOp))
		b.add(routePath("admin.archive.segment"), fromJSON(archiveSegmentOp))
		b.add(routePath("admin.archive.objects"), fromJSON(archiveObjectsOp))
	}
}

// document is the whole document around the paths and schemas.
func (b *builder) document() map[string]any {
	return map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"info": map[string]any{
			"title":   b.m.Name,
			"version": fmt.Sprintf("manifest v%d", b.m.ManifestVersion),
			"description": "The HTTP API of the cuesource context " + b.m.Name + ". Errors are RFC 9457 problem+json documents " +
				"whose `kind` says what went wrong.",
			"license": license(b.m.License),
		},
		// The document describes the server or Worker that serves it.
		"servers": []any{map[string]any{"url": "/", "description": "The server or Worker that serves this document."}},
		// {} makes the token optional: the server needs it only when it
		// has one.
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{}},
		"paths":    b.paths,
		"components": map[string]any{
			"schemas": b.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "When the server has a token, every route but /healthz needs it (or the admin token)."},
				"admin": map[string]any{"type": "http", "scheme": "bearer", "description": "The admin token."},
			},
			"parameters": map[string]any{
				"id": map[string]any{"name": "id", "in": "path", "required": true, "description": "The instance id.",
					"schema": map[string]any{"type": "string", "minLength": 1, "maxLength": cuesource.MaxIDLength}},
				"after": map[string]any{"name": "after", "in": "query", "description": "Return only what comes after this.",
					"schema": map[string]any{"type": "integer", "minimum": 0, "maximum": int64(1) << 62, "default": 0}},
				"raw": map[string]any{"name": "raw", "in": "query", "description": "Show the events as stored, with the type and schemaVersion " +
					"they were written with, instead of as the context reads them now (current name and version, through the lenses).",
					"schema": map[string]any{"type": "boolean", "default": false}},
				"pin": map[string]any{"name": "pin", "in": "query", "description": "Show an event type at an older version, through its " +
					"down lenses: aggregate.Event@version, repeated or comma-separated.",
					"style": "form", "explode": true, "schema": map[string]any{"type": "array", "items": str}},
			},
			"headers": map[string]any{
				"ETag": map[string]any{"description": `The instance's version as a weak ETag: W/"3".`, "schema": str},
			},
			"responses": map[string]any{
				"Unauthorized": unauthorized("the server has a token and the request did not send it as `Authorization: Bearer <token>`."),
			},
		},
	}
}

// license is the document's license object: the context's SPDX
// expression, or UNLICENSED (no license granted, written as an SPDX
// LicenseRef) when it declares none.
func license(spdx string) map[string]any {
	if spdx == "" {
		return map[string]any{"name": "UNLICENSED", "identifier": "LicenseRef-UNLICENSED"}
	}
	return map[string]any{"name": spdx, "identifier": spdx}
}

// routePath is the path of the route called name, with some of its
// parameters filled in (pairs of name and value: an aggregate's own paths
// name it), and the method of its operation: the route's first method
// (HEAD answers as GET, and OpenAPI describes GET).
func routePath(name string, fill ...string) where {
	r := route.Named(name)
	path := r.Key()
	for i := 0; i+1 < len(fill); i += 2 {
		path = strings.Replace(path, "{"+fill[i]+"}", fill[i+1], 1)
	}
	method, _, _ := strings.Cut(r.Methods, ",")
	return where{path, strings.ToLower(method)}
}

// where is where an operation goes: its path and method.
type where struct{ path, method string }

// The oa prefix keeps this file's helpers apart from the package's response
// helpers (problem, ...).

// addressed is how a command's route names its instance: by id (the
// zero value), by a unique key it holds, or not at all (create: the server
// chooses the id).
type addressed struct {
	constraint string
	create     bool
}

// keyParam is the key of a by-key route.
var keyParam = map[string]any{"name": "key", "in": "path", "required": true, "description": "The unique key.", "schema": str}

// command describes POST /{aggregate}/{id}/{command}, and the same
// command addressed by key or made with a server-chosen id.
func command(p *interpreter.Program, agg, name string, a *manifest.Aggregate, c *manifest.Command, at addressed) map[string]any {
	var desc strings.Builder
	switch {
	case at.create:
		fmt.Fprintf(&desc, "Runs %s on a new %s instance whose id the server chooses (%s); the answer's Location is its path. ", name, agg, newIDText(a))
	case at.constraint != "":
		fmt.Fprintf(&desc, "Runs %s on the %s instance that holds {key} under the unique constraint %s, only while it holds it (404 key_not_held otherwise). ", name, agg, at.constraint)
	default:
		fmt.Fprintf(&desc, "Runs %s on the %s instance {id}. ", name, agg)
	}
	switch c.Instance {
	case manifest.InstanceNew:
		desc.WriteString("It creates the instance, which must not exist yet (201 with Location).")
	case manifest.InstanceAny:
		desc.WriteString("It creates the instance when it does not exist yet (201 with Location).")
	default:
		desc.WriteString("The instance must exist.")
	}
	var guards []string
	for _, g := range c.Require {
		guards = append(guards, fmt.Sprintf("%q", g.Name))
	}
	if len(guards) > 0 {
		fmt.Fprintf(&desc, "\n\nGuards, checked in order; the first that fails answers 422 with its name: %s.", strings.Join(guards, ", "))
	}
	var invariants []string
	for _, i := range a.Invariants {
		invariants = append(invariants, fmt.Sprintf("%q", i.Name))
	}
	if len(invariants) > 0 {
		fmt.Fprintf(&desc, "\n\nInvariants of %s, checked after the events; one that fails answers 422 with its name: %s.", agg, strings.Join(invariants, ", "))
	}
	// The events the command may emit, once each in emit order: each of
	// the answer's events is one of them, with that event's payload.
	var emitted []string
	var branches []any
	for _, e := range c.Emit {
		if !slices.Contains(emitted, e.Event) {
			emitted = append(emitted, e.Event)
			branches = append(branches, object(map[string]any{
				"type":    map[string]any{"const": e.Event},
				"payload": ref("schemas", agg+".event."+e.Event),
			}))
		}
	}
	events := map[string]any{"type": "array", "maxItems": 0}
	if len(emitted) > 0 {
		fmt.Fprintf(&desc, "\n\nMay emit: %s.", strings.Join(emitted, ", "))
		items := map[string]any{"$ref": "#/components/schemas/DecidedEvent", "oneOf": branches}
		if len(branches) == 1 {
			// One event: its schema beside the reference, not a oneOf of
			// one (which linters flag as illogical).
			items = branches[0].(map[string]any)
			items["$ref"] = "#/components/schemas/DecidedEvent"
		}
		events = map[string]any{"type": "array", "items": items}
	}
	ifMatch := c.IfMatch == "required"
	if ifMatch {
		desc.WriteString("\n\nIf-Match is required (428 without it).")
	}

	result := object(map[string]any{"version": version, "events": events, "state": ref("schemas", agg+".state")})
	// Sync effects report their outcome in the answer; the command is
	// committed whatever it says.
	result["properties"].(map[string]any)["effects"] = map[string]any{
		"type":        "array",
		"description": "Present when the events triggered sync effects: each delivery's outcome (a failed one is retried from the outbox or dead-lettered, as its error says).",
		"items": map[string]any{"type": "object", "required": []string{"effect", "eventId", "ok"}, "properties": map[string]any{
			"effect": str, "eventId": str, "ok": map[string]any{"type": "boolean"}, "error": str}},
	}
	okHeaders := map[string]any{
		"ETag": ref("headers", "ETag"),
		"Idempotent-Replayed": map[string]any{"description": "true when this is the stored answer to an earlier request with the same Idempotency-Key.",
			"schema": map[string]any{"const": "true"}},
	}
	conflict := "idempotency_key_reused: the Idempotency-Key was sent with a different request; concurrent_write: another writer changed the instance meanwhile, retry."
	if c.Instance == manifest.InstanceNew {
		conflict = "instance_exists: the instance exists already; " + conflict
	}
	if claims := claimed(a, c); len(claims) > 0 {
		conflict = "unique_violation: its events would claim a key another instance holds (constraint and key say which; holder, to a caller who may read it) under " +
			strings.Join(claims, ", ") + "; " + conflict
	}
	responses := map[string]any{
		"200": jsonBody("The command was decided: the events it appended and the state after them.", result, okHeaders),
		"400": problem("schema (with violations), invalid_json or too_deep: the payload; invalid_header: If-Match or Idempotency-Key; invalid_id."),
		"401": ref("responses", "Unauthorized"),
		"403": problem("forbidden: Cuesource-Time without the admin token."),
		"409": problem(conflict),
		"412": problem("version_conflict: If-Match does not match the instance's current version (version and etag say which it is)."),
		"413": problem("too_large: the body is over the server's limit."),
		"415": problem("unsupported_media_type: a body that is not application/json."),
		"422": problem("guard or invariant (name says which) or budget_exceeded: the command is refused; state_too_large or event_too_large: its result is over the context's limit (limit says which)."),
		"500": problem("expression_failed or invalid_state: the context's expressions failed on this instance; internal: the server failed."),
		"503": problem(unavailable),
		"507": problem("storage_full: the server's storage is full. Nothing was written; retry after Retry-After."),
	}
	if len(c.Lookup) > 0 {
		responses["503"] = problem("lookup_failed: a look-up could not be read (lookup names it); " + unavailable)
	}
	if len(a.Unique) > 0 {
		responses["422"] = problem(responses["422"].(map[string]any)["description"].(string) + " invalid_key: a key an event would claim that no URL can address.")
	}
	if c.Instance != manifest.InstanceExisting {
		created := map[string]any{"Location": locationHeader}
		for k, v := range okHeaders {
			created[k] = v
		}
		responses["201"] = jsonBody("The command created the instance.", result, created)
	} else {
		responses["404"] = problem("instance_missing: the instance does not exist.")
	}
	switch {
	case at.constraint != "":
		responses["404"] = problem("key_not_held: no instance holds the key, or the one addressed let go of it first.")
		delete(responses, "201")
		headers := map[string]any{"Content-Location": contentLocation}
		for k, v := range okHeaders {
			headers[k] = v
		}
		responses["200"] = jsonBody("The command was decided: the events it appended and the state after them.", result, headers)
	case at.create:
		responses["405"] = problem("method_not_allowed: the command makes no instances.")
	}
	if ifMatch {
		responses["428"] = problem("precondition_required: the request has no If-Match.")
	}
	// A guard that declares its own status answers with it.
	for _, g := range c.Require {
		if g.Status == 0 {
			continue
		}
		code := strconv.Itoa(g.Status)
		what := fmt.Sprintf("guard %q refused the command (kind guard, name says which).", g.Name)
		if r, ok := responses[code].(map[string]any); ok {
			r["description"] = r["description"].(string) + " " + what
		} else {
			responses[code] = problem(what)
		}
	}

	body := map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": ref("schemas", agg+".command."+name)}}}
	// The body is optional exactly when the empty payload it stands for
	// ({}) fits the schema.
	if cmd := p.Aggregates[agg].Commands[name]; len(cmd.Validate(map[string]any{})) > 0 {
		body["required"] = true
	} else {
		body["description"] = "May be left out: no body is the payload {}."
	}
	params := []any{ref("parameters", "id")}
	id := agg + "." + name
	idemKey := "Up to 255 characters, scoped to the instance: a retry with the same key and request gets the first answer back."
	switch {
	case at.create:
		params, id = nil, id+".create"
		idemKey = "Up to 255 characters: a retry with the same key and request gets the first answer back, with the same id."
	case at.constraint != "":
		params, id = []any{keyParam}, id+".by."+at.constraint
	}
	o := op(id, name, desc.String(), append(params,
		header("Idempotency-Key", false, idemKey),
		header("If-Match", ifMatch, `The ETag the client last saw (W/"3"), or * for any existing version.`),
		header("Cuesource-Time", false, "The command's time (RFC 3339, kept to the millisecond) instead of the server's clock: the admin token only, as scenarios that set the clock send it."),
	), responses)
	o["requestBody"] = body
	return o
}

const unavailable = "unavailable: the server is shutting down; storage_failed: its storage failed to read or write. Nothing was written; retry after Retry-After."

// claimed names the unique constraints the events c may emit claim.
func claimed(a *manifest.Aggregate, c *manifest.Command) []string {
	var out []string
	for _, u := range a.Unique {
		for _, e := range c.Emit {
			if slices.Contains(u.ClaimedBy, e.Event) && !slices.Contains(out, u.Name) {
				out = append(out, u.Name)
			}
		}
	}
	return out
}

// newIDText says how the server chooses a new instance's id.
func newIDText(a *manifest.Aggregate) string {
	if a.NewID != nil {
		return "newId: " + a.NewID.Src
	}
	return "a UUIDv7; with an Idempotency-Key, one made from the key"
}

// embedded returns a manifest schema for components/schemas/name. Its local
// references ("#/$defs/...", which only recursive definitions keep) are
// relative to the schema, so they are rewritten to point into the
// document. Decoding keeps numbers as written.
func embedded(name string, raw json.RawMessage) any {
	if len(raw) == 0 {
		return map[string]any{}
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var s any
	if err := d.Decode(&s); err != nil {
		return map[string]any{} // unreachable: manifests hold valid JSON
	}
	var walk func(any)
	walk = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok && (r == "#" || strings.HasPrefix(r, "#/")) {
				v["$ref"] = "#/components/schemas/" + name + r[1:]
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(s)
	return s
}

func op(id, summary, description string, params []any, responses map[string]any) map[string]any {
	o := map[string]any{"operationId": id, "summary": summary, "responses": responses}
	if description != "" {
		o["description"] = description
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	return o
}

func ref(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/components/" + kind + "/" + name}
}

func header(name string, required bool, description string) map[string]any {
	return map[string]any{"name": name, "in": "header", "required": required, "description": description, "schema": str}
}

func jsonBody(description string, schema any, headers map[string]any) map[string]any {
	r := map[string]any{"description": description, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	if headers != nil {
		r["headers"] = headers
	}
	return r
}

func problem(description string) map[string]any {
	return map[string]any{"description": description,
		"content": map[string]any{"application/problem+json": map[string]any{"schema": ref("schemas", "Problem")}}}
}

func unauthorized(description string) map[string]any {
	r := problem("unauthorized: " + description)
	r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"schema": map[string]any{"const": `Bearer realm="cuesource"`}}}
	return r
}

// object is an object schema whose properties are all required.
func object(props map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": slices.Sorted(maps.Keys(props))}
}

var (
	str     = map[string]any{"type": "string"}
	version = map[string]any{"type": "integer", "minimum": 0, "description": "The instance's version: its number of events."}
	// etagHeader is the headers object of answers that carry an ETag.
	etagHeader     = map[string]any{"ETag": ref("headers", "ETag")}
	locationHeader = map[string]any{"description": "The instance's path.", "schema": str}
	// contentLocation is the path of the instance a key addressed.
	contentLocation = map[string]any{"description": "The path of the instance holding the key: retry by it.", "schema": str}
)

func problemSchema(f Facts) map[string]any {
	return map[string]any{
		"type":        "object",
		"description": "An RFC 9457 problem. The extensions appear when they apply.",
		"required":    []any{"type", "title", "status", "detail", "kind"},
		"properties": map[string]any{
			"type":   map[string]any{"type": "string", "format": "uri", "description": f.ProblemType + "<kind>"},
			"title":  str,
			"status": map[string]any{"type": "integer"},
			"detail": str,
			"kind":   str,
			"name":   map[string]any{"type": "string", "description": "The guard or invariant that refused the command."},
			"violations": map[string]any{"type": "array", "description": "Where the payload does not fit its schema.",
				"items": object(map[string]any{
					"pointer": map[string]any{"type": "string", "description": "RFC 6901 pointer into the payload."},
					"message": str,
				})},
			"version":    map[string]any{"type": "integer", "description": "The instance's current version (412, concurrent_write)."},
			"etag":       map[string]any{"type": "string", "description": "The instance's current ETag (412)."},
			"at":         map[string]any{"type": "string", "description": "The source position of the expression that failed."},
			"parameter":  map[string]any{"type": "string", "description": "The query parameter that is wrong."},
			"constraint": map[string]any{"type": "string", "description": "The unique constraint (unique_violation, invalid_key, key_not_held, unknown_constraint)."},
			"key":        map[string]any{"type": "string", "description": "The unique key (unique_violation, invalid_key, key_not_held)."},
			"holder":     map[string]any{"type": "string", "description": "The instance that holds the key (unique_violation), to a caller who may read it."},
			"lookup":     map[string]any{"type": "string", "description": "The look-up that could not be read (lookup_failed)."},
		},
	}
}

// eventSchema is store.Event as the log endpoints answer it.
var eventSchema = func() map[string]any {
	s := object(map[string]any{
		"id":            str,
		"position":      map[string]any{"type": "integer", "minimum": 1, "description": "In the global log."},
		"aggregate":     str,
		"instance":      str,
		"version":       map[string]any{"type": "integer", "minimum": 1, "description": "In the instance."},
		"type":          str,
		"schemaVersion": map[string]any{"type": "integer", "minimum": 0, "description": "The payload's version: the current one unless ?raw or ?pin."},
		"time":          map[string]any{"type": "string", "format": "date-time"},
		"commandId":     str,
		"payload":       map[string]any{},
	})
	s["properties"].(map[string]any)["meta"] = map[string]any{"type": "object"} // optional
	return s
}()

// decidedEventSchema is an event as a command's answer lists it.
var decidedEventSchema = object(map[string]any{
	"id":      str,
	"type":    str,
	"version": map[string]any{"type": "integer", "minimum": 1},
	"time":    map[string]any{"type": "string", "format": "date-time"},
	"payload": map[string]any{},
})

var driftSchema = func() map[string]any {
	s := object(map[string]any{
		"aggregate": str,
		"id":        str,
		"version":   map[string]any{"type": "integer"},
		"events":    map[string]any{"type": "integer", "description": "How many events were replayed: those after fromSnapshot."},
		"drifted":   map[string]any{"type": "boolean", "description": "The stored state differs from the rebuilt one."},
		"fixed":     map[string]any{"type": "boolean", "description": "The rebuilt state was stored."},
	})
	props := s["properties"].(map[string]any)
	props["stored"] = map[string]any{"description": "The stored state."}
	props["rebuilt"] = map[string]any{"description": "The state the events give."}
	props["error"] = map[string]any{"type": "string", "description": "Why the replay failed."}
	props["fromSnapshot"] = map[string]any{"type": "integer", "minimum": 1,
		"description": "The version of the snapshot the replay started from; absent: it started from the first event."}
	return s
}()

// readSide describes the queries, the projections' status and actions,
// and the dead-letter list.
func readSide(m *manifest.Manifest, add func(at where, o map[string]any), schemas map[string]any) {
	for name, q := range m.Queries {
		var doc map[string]any
		_ = json.Unmarshal(q.Params, &doc)
		var params []any
		props, _ := doc["properties"].(map[string]any)
		required := map[string]bool{}
		if req, ok := doc["required"].([]any); ok {
			for _, r := range req {
				if s, ok := r.(string); ok {
					required[s] = true
				}
			}
		}
		for _, pn := range slices.Sorted(maps.Keys(props)) {
			params = append(params, map[string]any{"name": pn, "in": "query", "required": required[pn], "schema": props[pn]})
		}
		add(routePath("query", "name", name), op("query."+name, "Query "+name, "```sql\n"+q.SQL+"\n```", params, map[string]any{
			"200": jsonBody("The rows, and how current the projections they come from are.", object(map[string]any{
				"query": map[string]any{"const": name},
				"rows":  map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
				"projections": map[string]any{"type": "array", "items": ref("schemas", "ProjectionStatus"),
					"description": "The projections the query reads: state, position (the rows hold every event up to it) and lag behind the head."},
				"stale": map[string]any{"type": "boolean",
					"description": "true when a projection the query reads is not running (failed: its rows stop where it failed; rebuilding; or not yet built by the current definition)."},
			}), nil),
			"400": problem("invalid_parameter: the parameters do not fit #params (violations name them)."),
			"401": ref("responses", "Unauthorized"),
			"422": problem("query_too_large: the result is over the context's queryRows or queryBytes limit (limit says which)."),
			"503": problem("query_timeout: the query ran out of time and was stopped; retry after Retry-After."),
		}))
	}
	if len(m.Projections) > 0 {
		schemas["ProjectionStatus"] = fromJSON(projectionStatusSchema)
		add(routePath("projections"), fromJSON(projectionsOp))
		names := map[string]any{"enum": slices.Sorted(maps.Keys(m.Projections))}
		for _, o := range []struct{ route, doc string }{{"projections.action", projectionActionOp}, {"admin.projectionRow", projectionRowOp}} {
			op := fromJSON(o.doc)
			op["parameters"].([]any)[0].(map[string]any)["schema"] = names
			add(routePath(o.route), op)
		}
	}
	if len(m.Effects) > 0 {
		schemas["DeadLetter"] = object(map[string]any{
			"id": version, "effect": str, "eventId": str, "attempts": version, "error": str,
			"rejection": map[string]any{"type": "object"}, "time": map[string]any{"type": "string", "format": "date-time"},
		})
		admin := []any{map[string]any{"admin": []any{}}}
		idParam := map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "integer"}}
		list := op("deadLetters.list", "Dead letters", "Deliveries of effects that gave up after their retries, or whose command was rejected for good.", nil,
			map[string]any{"200": jsonBody("The dead letters.", object(map[string]any{"deadLetters": map[string]any{"type": "array", "items": ref("schemas", "DeadLetter")}}), nil),
				"401": unauthorized("the request did not send the admin token.")})
		retry := op("deadLetters.retry", "Retry a dead letter", "Moves it back to the outbox, due now.", []any{idParam},
			map[string]any{"204": map[string]any{"description": "Queued again."}, "404": problem("unknown_dead_letter."),
				"400": problem("invalid_path: the id is not a number."),
				"401": unauthorized("the request did not send the admin token.")})
		discard := op("deadLetters.discard", "Discard a dead letter", "", []any{idParam},
			map[string]any{"204": map[string]any{"description": "Discarded."}, "404": problem("unknown_dead_letter."),
				"400": problem("invalid_path: the id is not a number."),
				"401": unauthorized("the request did not send the admin token.")})
		for _, o := range []map[string]any{list, retry, discard} {
			o["security"] = admin
		}
		add(routePath("deadLetters.list"), list)
		add(routePath("deadLetters.retry"), retry)
		add(routePath("deadLetters.discard"), discard)
	}
}

// The parts a retention adds, the admin routes and the projections' routes,
// written as JSON: data, not code, in the Worker that carries this
// package.
const (
	storageOp = `{"operationId": "admin.storage", "summary": "Storage and archive",
		"description": "The hot log's size against its budget (retention.hotBytes), the archive's segments (count, positions, date range, bytes, checksum; the newest 100 listed) and what each retention policy would let go next. The same natively (cuesource serve --archive) and on Workers (D1's log and the R2 bucket ARCHIVE); cuesource storage status --url reads it.",
		"security": [{"admin": []}],
		"responses": {
			"200": {"description": "The storage status.", "content": {"application/json": {"schema": {"type": "object", "required": ["hotBytes", "head", "archived", "segmentCount", "segments", "next"]}}}},
			"401": {"description": "unauthorized: the request did not send the admin token.", "headers": {"WWW-Authenticate": {"schema": {"const": "Bearer realm=\"cuesource\""}}}, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"404": {"description": "not_found: the server has no admin token, or its runtime reports no storage.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
		}}`
	archiveSegmentsOp = `{"operationId": "admin.archive.segments", "summary": "The archive's index",
		"description": "A page of the segment index: the entries holding positions above after, in position order, each as GET /admin/storage lists a segment (hot: what the index says) with counted, how many of its events the hot store holds, counted in the same read. Read on from next until a page is empty. cuesource archive verify|restore --url read it. Admin token; 404 without an archive (natively serve --archive; on Workers the R2 bucket ARCHIVE).",
		"security": [{"admin": []}],
		"parameters": [{"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
			{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}}],
		"responses": {
			"200": {"description": "A page of the index.", "content": {"application/json": {"schema": {"type": "object", "required": ["segments", "next"], "properties": {
				"segments": {"type": "array", "items": {"type": "object", "required": ["name", "first", "last", "count", "firstTime", "lastTime", "bytes", "sha256", "hot", "counted"]}},
				"next": {"type": "integer", "minimum": 0, "description": "The last position of the page's last entry (after when the page is empty)."}}}}}},
			"400": {"description": "invalid_parameter: after or limit out of range.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"401": {"description": "unauthorized: the request did not send the admin token.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"404": {"description": "not_found: the server has no admin token, or no archive.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
		}}`
	archiveSegmentOp = `{"operationId": "admin.archive.segment", "summary": "An archived object, as stored",
		"description": "The object's bytes as the archive keeps them (a gzip segment), base64 in JSON: a Worker's response body is a JavaScript string, which cannot carry raw binary. At most 16 MiB (the archiver's segments are far smaller). Admin token.",
		"security": [{"admin": []}],
		"parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[0-9]{20}-[0-9]{20}[.]ndjson[.]gz$"}}],
		"responses": {
			"200": {"description": "The object.", "content": {"application/json": {"schema": {"type": "object", "required": ["name", "bytes", "data"], "properties": {
				"name": {"type": "string"}, "bytes": {"type": "integer", "minimum": 0}, "data": {"type": "string", "contentEncoding": "base64"}}}}}},
			"401": {"description": "unauthorized: the request did not send the admin token.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"404": {"description": "object_not_found: the archive holds no segment of that name; not_found: the server has no admin token, or no archive.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"422": {"description": "object_too_large: the object is over 16 MiB (bytes, limit); verify it where it is kept.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
		}}`
	archiveObjectsOp = `{"operationId": "admin.archive.objects", "summary": "The archive's object names",
		"description": "A page of the names the archive's target holds, in name order, after the name after: the index's segments and any leftover of an interrupted step. Read on from next until a page is empty. Admin token.",
		"security": [{"admin": []}],
		"parameters": [{"name": "after", "in": "query", "schema": {"type": "string", "maxLength": 1024, "default": ""}},
			{"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000}}],
		"responses": {
			"200": {"description": "A page of names.", "content": {"application/json": {"schema": {"type": "object", "required": ["names", "next"], "properties": {
				"names": {"type": "array", "items": {"type": "string"}}, "next": {"type": "string"}}}}}},
			"400": {"description": "invalid_parameter: after or limit out of range.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"401": {"description": "unauthorized: the request did not send the admin token.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"404": {"description": "not_found: the server has no admin token, or no archive.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
		}}`
	rehydrateOp            = `{"description": "Rebuilds the instance's state from its events and compares it with the stored state; with fix=true it stores the rebuilt state. Admin routes need the admin token and answer 404 when the server has none.", "operationId": "admin.rehydrate", "parameters": [{"in": "path", "name": "aggregate", "required": true, "schema": {}}, {"$ref": "#/components/parameters/id"}, {"description": "true stores the rebuilt state.", "in": "query", "name": "fix", "schema": {"default": false, "type": "boolean"}}], "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Drift"}}}, "description": "The comparison."}, "401": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "unauthorized: the request did not send the admin token.", "headers": {"WWW-Authenticate": {"schema": {"const": "Bearer realm=\"cuesource\""}}}}, "404": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "not_found (the server has no admin token), unknown_aggregate or instance_missing."}}, "security": [{"admin": []}], "summary": "Rehydrate an instance"}`
	seedOp                 = `{"description": "Writes the given events to a new instance, bypassing commands and guards: each payload is still validated against its schema and folded through the reducers. How scenarios are played over HTTP and history is imported. Admin routes need the admin token and answer 404 when the server has none.", "operationId": "admin.seed", "parameters": [{"in": "path", "name": "aggregate", "required": true, "schema": {}}, {"$ref": "#/components/parameters/id"}], "requestBody": {"content": {"application/json": {"schema": {"properties": {"events": {"items": {"properties": {"at": {"description": "When the event happened (kept to the millisecond). Default: the previous event's time, or the seed's.", "format": "date-time", "type": "string"}, "event": {"type": "string"}, "payload": {"description": "{} when left out.", "type": "object"}, "version": {"description": "Store the event at this older version (its payload fits that version; event may be a former name): it is read through the lenses. Default: the current version.", "minimum": 0, "type": "integer"}}, "required": ["event"], "type": "object"}, "minItems": 1, "type": "array"}}, "required": ["events"], "type": "object"}}}, "required": true}, "responses": {"201": {"content": {"application/json": {"schema": {"properties": {"state": {}, "version": {"description": "The instance's version: its number of events.", "minimum": 0, "type": "integer"}}, "required": ["state", "version"], "type": "object"}}}, "description": "The instance, created.", "headers": {"ETag": {"$ref": "#/components/headers/ETag"}, "Location": {"description": "The instance's path.", "schema": {"type": "string"}}}}, "400": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "invalid_json or invalid_body: the body; schema: a payload does not fit its event; lens_failed: an old payload cannot be read; invalid_id."}, "401": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "unauthorized: the request did not send the admin token.", "headers": {"WWW-Authenticate": {"schema": {"const": "Bearer realm=\"cuesource\""}}}}, "404": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "not_found (the server has no admin token) or unknown_aggregate."}, "409": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "instance_exists: seeding needs a new instance."}, "415": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "unsupported_media_type: the body is not application/json."}, "500": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "unknown_event, expression_failed or invalid_state: the events do not fold; internal: the server failed."}}, "security": [{"admin": []}], "summary": "Seed an instance"}`
	projectionStatusSchema = `{"properties": {"error": {"type": "string"}, "errorPosition": {"description": "The instance's version: its number of events.", "minimum": 0, "type": "integer"}, "hash": {"type": "string"}, "head": {"description": "The instance's version: its number of events.", "minimum": 0, "type": "integer"}, "lag": {"description": "The instance's version: its number of events.", "minimum": 0, "type": "integer"}, "mode": {"enum": ["inline", "async"]}, "name": {"type": "string"}, "position": {"description": "The instance's version: its number of events.", "minimum": 0, "type": "integer"}, "state": {"enum": ["running", "failed", "rebuilding"]}}, "required": ["error", "errorPosition", "hash", "head", "lag", "mode", "name", "position", "state"], "type": "object"}`
	projectionsOp          = `{"description": "Every projection's position in the log, its lag behind the head, and its state; a failed one names the position and error it stopped at.", "operationId": "projections", "responses": {"200": {"content": {"application/json": {"schema": {"properties": {"projections": {"items": {"$ref": "#/components/schemas/ProjectionStatus"}, "type": "array"}}, "required": ["projections"], "type": "object"}}}, "description": "The projections."}, "401": {"$ref": "#/components/responses/Unauthorized"}}, "summary": "Projection status"}`
	projectionActionOp     = `{"description": "rebuild drops the table and replays the log; skip moves a failed projection past the event it failed on; resume retries it. Admin token.", "operationId": "projections.action", "parameters": [{"in": "path", "name": "name", "required": true, "schema": {}}, {"in": "path", "name": "action", "required": true, "schema": {"enum": ["rebuild", "skip", "resume"]}}], "responses": {"200": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ProjectionStatus"}}}, "description": "The projection's status after the action."}, "401": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "unauthorized: the request did not send the admin token.", "headers": {"WWW-Authenticate": {"schema": {"const": "Bearer realm=\"cuesource\""}}}}, "404": {"content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}, "description": "not_found (the server has no admin token) or unknown_projection."}}, "security": [{"admin": []}], "summary": "Rebuild, skip or resume a projection"}`
	projectionRowOp        = `{"operationId": "admin.projectionRow", "summary": "A projection row",
		"description": "The row of the projection under its key, and the projection's status (the row holds every event up to its position). How cuesource test --url checks a scenario's then.projection. Admin token.",
		"security": [{"admin": []}],
		"parameters": [{"name": "name", "in": "path", "required": true},
			{"name": "key", "in": "path", "required": true, "description": "The row's key.", "schema": {"type": "string"}}],
		"responses": {
			"200": {"description": "The row (null when there is none under the key) and the projection's status.", "content": {"application/json": {"schema": {
				"type": "object", "required": ["key", "projection", "row", "status"], "properties": {
				"projection": {"type": "string"}, "key": {"type": "string"},
				"row": {"type": ["object", "null"], "description": "key and each column by name, as a query gives them."},
				"status": {"$ref": "#/components/schemas/ProjectionStatus"}}}}}},
			"401": {"description": "unauthorized: the request did not send the admin token.", "headers": {"WWW-Authenticate": {"schema": {"const": "Bearer realm=\"cuesource\""}}}, "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}},
			"404": {"description": "not_found (the server has no admin token, or the runtime reads no rows by key) or unknown_projection.", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}
		}}`
	hotFromProp = `{"type": "integer", "minimum": 2, "description": "Present when the instance's first events left the hot store for the archive: the version its events here begin at. GET /events reads them all."}`
)

// fromJSON decodes one of the constants above.
func fromJSON(doc string) map[string]any {
	var v map[string]any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		panic("openapi: " + err.Error()) // a constant of this file: a test runs it
	}
	return v
}
