package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/interpreter"
	"github.com/cuesource/cuesource/manifest"
	"github.com/cuesource/cuesource/route"
	"github.com/cuesource/cuesource/value"
)

// OpenAPI describes the routes Serve answers for p as an OpenAPI 3.1
// document. OpenAPI 3.1 schemas are JSON Schema 2020-12, the dialect of the
// manifest, so the context's own schemas are embedded as they are. The
// document is built from maps and encoded with sorted keys, so the same
// context always gives the same bytes.
func OpenAPI(p *interpreter.Program) []byte {
	m := p.Manifest
	schemas := map[string]any{
		"Problem":      oaProblemSchema,
		"Event":        oaEventSchema,
		"DecidedEvent": oaDecidedEventSchema,
		"Drift":        oaDriftSchema,
	}
	paths := map[string]any{}
	// add merges operations into path items: a command named "events"
	// shares its path with GET /{aggregate}/{id}/events.
	add := func(at oaAt, o map[string]any) {
		item, _ := paths[at.path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[at.path] = item
		}
		item[at.method] = o
	}
	aggregates := slices.Sorted(maps.Keys(m.Aggregates))
	for name, a := range m.Aggregates {
		// Names are namespaced by kind: a command and an event may share
		// a name, and their schemas must not.
		schemas[name+".state"] = oaEmbed(name+".state", a.State)
		for ev, e := range a.Events {
			schemas[name+".event."+ev] = oaEmbed(name+".event."+ev, e.Payload)
		}
		for cmd, c := range a.Commands {
			schemas[name+".command."+cmd] = oaEmbed(name+".command."+cmd, c.Payload)
			add(oaPath("command", "aggregate", name, "command", cmd), oaCommand(p, name, cmd, a, c))
		}
		add(oaPath("instance", "aggregate", name), oaOp(name+".get", "Read a "+name,
			"The instance's state, its version and its ETag. HEAD answers the same without a body.",
			[]any{oaRef("parameters", "id"), oaHeader("If-None-Match", false,
				"ETags (or *); when one matches the current version the answer is 304.")},
			map[string]any{
				"200": oaJSON("The instance.", oaObject(map[string]any{
					"aggregate": map[string]any{"const": name},
					"id":        oaString,
					"version":   oaVersion,
					"state":     oaRef("schemas", name+".state"),
				}), oaETag),
				"304": map[string]any{"description": "If-None-Match matches the current version.", "headers": oaETag},
				"400": oaProblem("invalid_id: the id is longer than 256 bytes."),
				"401": oaRef("responses", "Unauthorized"),
				"404": oaProblem("instance_missing: the instance has no events."),
			}))
		add(oaPath("instance.events", "aggregate", name), oaOp(name+".events", "Read a "+name+"'s events",
			"A page of the instance's events, oldest first, after version `after`; `next` is the version to pass as `after` "+
				"for the next page. A page also ends with the event that takes its payloads to 4 MiB.",
			[]any{oaRef("parameters", "id"), oaRef("parameters", "after"),
				map[string]any{"name": "limit", "in": "query", "description": "The largest number of events to return.",
					"schema": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxPage, "default": MaxPage}},
				oaRef("parameters", "raw"), oaRef("parameters", "pin")},
			map[string]any{
				"200": oaJSON("The events; [] for an instance that does not exist.", oaObject(map[string]any{
					"aggregate": map[string]any{"const": name},
					"id":        oaString,
					"events":    map[string]any{"type": "array", "items": oaRef("schemas", "Event")},
					"next":      map[string]any{"type": "integer", "minimum": 0},
				}), nil),
				"400": oaProblem("invalid_id or invalid_parameter."),
				"401": oaRef("responses", "Unauthorized"),
			}))
	}

	add(oaPath("events"), oaOp("events", "Read the global log",
		"Every event of every instance in the order they were appended, by position, after position `after`; `next` is the position "+
			"to pass as `after` for the next page.\n\n"+
			"With `Accept: text/event-stream` the answer is a stream of Server-Sent Events instead: each event is one message whose id "+
			"is its position and whose data is the Event as JSON. It follows the log as it grows; a client that reconnects "+
			"with Last-Event-ID resumes after that position.",
		[]any{oaRef("parameters", "after"),
			map[string]any{"name": "limit", "in": "query", "description": "The largest number of events to return.",
				"schema": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxPage, "default": 100}},
			oaHeader("Last-Event-ID", false, "With text/event-stream: the position to resume after (it overrides `after`)."),
			oaRef("parameters", "raw"), oaRef("parameters", "pin"),
		},
		map[string]any{
			"200": map[string]any{"description": "A page of the log, or its stream.", "content": map[string]any{
				"application/json": map[string]any{"schema": oaObject(map[string]any{
					"events": map[string]any{"type": "array", "items": oaRef("schemas", "Event")},
					"next":   map[string]any{"type": "integer", "minimum": 0},
				})},
				"text/event-stream": map[string]any{"schema": oaString},
			}},
			"400": oaProblem("invalid_parameter: `after` or `limit` is not an integer in range; invalid_header: Last-Event-ID is not a position."),
			"401": oaRef("responses", "Unauthorized"),
			"406": oaProblem("not_acceptable: text/event-stream was asked for and this runtime does not stream the log."),
		}))
	storage := map[string]any{"type": "object", "description": "The storage faults seen since the server started, once there are any (a runtime with its own storage reports them).",
		"properties": map[string]any{
			"failing":     map[string]any{"type": "boolean", "description": "The last fault has not been followed by a write that went through."},
			"faults":      map[string]any{"type": "integer", "minimum": 0},
			"lastFault":   oaString,
			"lastFaultAt": map[string]any{"type": "string", "format": "date-time"},
		}}
	healthy := oaObject(map[string]any{
		"status":  map[string]any{"const": "ok"},
		"context": map[string]any{"const": m.Name},
	})
	healthy["properties"].(map[string]any)["storage"] = storage // optional
	health := oaOp("healthz", "Health", "Answers while the server runs; needs no token. HEAD answers too.", nil,
		map[string]any{
			"200": oaJSON("The server runs this context.", healthy, nil),
			"503": oaJSON("The server's storage fails to take writes (full, or an I/O error); it recovers by itself when the storage does.", oaObject(map[string]any{
				"status":  map[string]any{"const": "storage_failing"},
				"context": map[string]any{"const": m.Name},
				"storage": storage,
			}), map[string]any{"Retry-After": map[string]any{"schema": oaString}}),
		})
	health["security"] = []any{}
	add(oaPath("healthz"), health)
	add(oaPath("openapi"), oaOp("openapi", "This document", "", nil, map[string]any{
		"200": oaJSON("The OpenAPI document of this context.", map[string]any{"type": "object"}, nil),
		"401": oaRef("responses", "Unauthorized"),
	}))
	rehydrate := oaOp("admin.rehydrate", "Rehydrate an instance",
		"Rebuilds the instance's state from its events and compares it with the stored state; with fix=true it stores the "+
			"rebuilt state. Admin routes need the admin token and answer 404 when the server has none.",
		oaAdminParams(aggregates, map[string]any{"name": "fix", "in": "query", "description": "true stores the rebuilt state.",
			"schema": map[string]any{"type": "boolean", "default": false}}),
		map[string]any{
			"200": oaJSON("The comparison.", oaRef("schemas", "Drift"), nil),
			"401": oaUnauthorized("the request did not send the admin token."),
			"404": oaProblem("not_found (the server has no admin token), unknown_aggregate or instance_missing."),
		})
	seed := oaOp("admin.seed", "Seed an instance",
		"Writes the given events to a new instance, bypassing commands and guards: each payload is still validated against "+
			"its schema and folded through the reducers. How scenarios are played over HTTP and history is imported. "+
			"Admin routes need the admin token and answer 404 when the server has none.",
		oaAdminParams(aggregates, nil),
		map[string]any{
			"201": oaJSON("The instance, created.", oaObject(map[string]any{"version": oaVersion, "state": map[string]any{}}),
				map[string]any{"ETag": oaRef("headers", "ETag"), "Location": oaLocation}),
			"400": oaProblem("invalid_json or invalid_body: the body; schema: a payload does not fit its event; lens_failed: an old payload cannot be read; invalid_id."),
			"401": oaUnauthorized("the request did not send the admin token."),
			"404": oaProblem("not_found (the server has no admin token) or unknown_aggregate."),
			"409": oaProblem("instance_exists: seeding needs a new instance."),
			"415": oaProblem("unsupported_media_type: the body is not application/json."),
			"500": oaProblem("unknown_event, expression_failed or invalid_state: the events do not fold; internal: the server failed."),
		})
	seed["requestBody"] = map[string]any{"required": true, "content": map[string]any{"application/json": map[string]any{
		"schema": oaObject(map[string]any{"events": map[string]any{"type": "array", "minItems": 1, "items": map[string]any{
			"type": "object", "required": []string{"event"},
			"properties": map[string]any{"event": oaString, "payload": map[string]any{"type": "object", "description": "{} when left out."},
				"version": map[string]any{"type": "integer", "minimum": 0, "description": "Store the event at this older version " +
					"(its payload fits that version; event may be a former name): it is read through the lenses. Default: the current version."}},
		}}}),
	}}}
	// Admin routes take the admin token only; the general token is not
	// enough.
	for _, o := range []map[string]any{rehydrate, seed} {
		o["security"] = []any{map[string]any{"admin": []any{}}}
	}
	add(oaPath("admin.rehydrate"), rehydrate)
	add(oaPath("admin.seed"), seed)
	oaReadSide(m, add, schemas)

	doc := map[string]any{
		"openapi":           "3.1.0",
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"info": map[string]any{
			"title":   m.Name,
			"version": fmt.Sprintf("manifest v%d", m.ManifestVersion),
			"description": "The HTTP API of the cuesource context " + m.Name + ". Errors are RFC 9457 problem+json documents " +
				"whose `kind` says what went wrong.",
		},
		// {} makes the token optional: the server needs it only when it
		// has one.
		"security": []any{map[string]any{"bearer": []any{}}, map[string]any{}},
		"paths":    paths,
		"components": map[string]any{
			"schemas": schemas,
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
					"style": "form", "explode": true, "schema": map[string]any{"type": "array", "items": oaString}},
			},
			"headers": map[string]any{
				"ETag": map[string]any{"description": `The instance's version as a weak ETag: W/"3".`, "schema": oaString},
			},
			"responses": map[string]any{
				"Unauthorized": oaUnauthorized("the server has a token and the request did not send it as `Authorization: Bearer <token>`."),
			},
		},
	}
	out, err := value.Encode(doc)
	if err != nil {
		panic(err) // maps, slices, strings, numbers and valid JSON only
	}
	return out
}

// oaPath is the path of the route called name, with some of its
// parameters filled in (pairs of name and value: an aggregate's own paths
// name it), and the method of its operation: the route's first method
// (HEAD answers as GET, and OpenAPI describes GET).
func oaPath(name string, fill ...string) oaAt {
	r := route.Named(name)
	path := r.Key()
	for i := 0; i+1 < len(fill); i += 2 {
		path = strings.Replace(path, "{"+fill[i]+"}", fill[i+1], 1)
	}
	method, _, _ := strings.Cut(r.Methods, ",")
	return oaAt{path, strings.ToLower(method)}
}

// oaAt is where an operation goes: its path and method.
type oaAt struct{ path, method string }

// The oa prefix keeps this file's helpers apart from the package's response
// helpers (problem, ...).

// oaCommand describes POST /{aggregate}/{id}/{command}.
func oaCommand(p *interpreter.Program, agg, name string, a *manifest.Aggregate, c *manifest.Command) map[string]any {
	var desc strings.Builder
	fmt.Fprintf(&desc, "Runs %s on the %s instance {id}. ", name, agg)
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
			branches = append(branches, oaObject(map[string]any{
				"type":    map[string]any{"const": e.Event},
				"payload": oaRef("schemas", agg+".event."+e.Event),
			}))
		}
	}
	events := map[string]any{"type": "array", "maxItems": 0}
	if len(emitted) > 0 {
		fmt.Fprintf(&desc, "\n\nMay emit: %s.", strings.Join(emitted, ", "))
		events = map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/DecidedEvent", "oneOf": branches}}
	}
	ifMatch := c.IfMatch == "required"
	if ifMatch {
		desc.WriteString("\n\nIf-Match is required (428 without it).")
	}

	result := oaObject(map[string]any{"version": oaVersion, "events": events, "state": oaRef("schemas", agg+".state")})
	// Sync effects report their outcome in the answer; the command is
	// committed whatever it says.
	result["properties"].(map[string]any)["effects"] = map[string]any{
		"type":        "array",
		"description": "Present when the events triggered sync effects: each delivery's outcome (a failed one is retried from the outbox or dead-lettered, as its error says).",
		"items": map[string]any{"type": "object", "required": []string{"effect", "eventId", "ok"}, "properties": map[string]any{
			"effect": oaString, "eventId": oaString, "ok": map[string]any{"type": "boolean"}, "error": oaString}},
	}
	okHeaders := map[string]any{
		"ETag": oaRef("headers", "ETag"),
		"Idempotent-Replayed": map[string]any{"description": "true when this is the stored answer to an earlier request with the same Idempotency-Key.",
			"schema": map[string]any{"const": "true"}},
	}
	conflict := "idempotency_key_reused: the Idempotency-Key was sent with a different request; concurrent_write: another writer changed the instance meanwhile, retry."
	if c.Instance == manifest.InstanceNew {
		conflict = "instance_exists: the instance exists already; " + conflict
	}
	responses := map[string]any{
		"200": oaJSON("The command was decided: the events it appended and the state after them.", result, okHeaders),
		"400": oaProblem("schema (with violations), invalid_json or too_deep: the payload; invalid_header: If-Match or Idempotency-Key; invalid_id."),
		"401": oaRef("responses", "Unauthorized"),
		"409": oaProblem(conflict),
		"412": oaProblem("version_conflict: If-Match does not match the instance's current version (version and etag say which it is)."),
		"413": oaProblem("too_large: the body is over the server's limit."),
		"415": oaProblem("unsupported_media_type: a body that is not application/json."),
		"422": oaProblem("guard or invariant (name says which) or budget_exceeded: the command is refused; state_too_large or event_too_large: its result is over the context's limit (limit says which)."),
		"500": oaProblem("expression_failed or invalid_state: the context's expressions failed on this instance; internal: the server failed."),
		"503": oaProblem("unavailable: the server is shutting down; storage_failed: its storage failed to read or write. Nothing was written; retry after Retry-After."),
		"507": oaProblem("storage_full: the server's storage is full. Nothing was written; retry after Retry-After."),
	}
	if c.Instance != manifest.InstanceExisting {
		created := map[string]any{"Location": oaLocation}
		for k, v := range okHeaders {
			created[k] = v
		}
		responses["201"] = oaJSON("The command created the instance.", result, created)
	} else {
		responses["404"] = oaProblem("instance_missing: the instance does not exist.")
	}
	if ifMatch {
		responses["428"] = oaProblem("precondition_required: the request has no If-Match.")
	}

	body := map[string]any{"content": map[string]any{"application/json": map[string]any{"schema": oaRef("schemas", agg+".command."+name)}}}
	// The body is optional exactly when the empty payload it stands for
	// ({}) fits the schema.
	if cmd := p.Aggregates[agg].Commands[name]; len(cmd.Validate(map[string]any{})) > 0 {
		body["required"] = true
	} else {
		body["description"] = "May be left out: no body is the payload {}."
	}
	o := oaOp(agg+"."+name, name, desc.String(), []any{
		oaRef("parameters", "id"),
		oaHeader("Idempotency-Key", false, "Up to 255 characters, scoped to the instance: a retry with the same key and request gets the first answer back."),
		oaHeader("If-Match", ifMatch, `The ETag the client last saw (W/"3"), or * for any existing version.`),
	}, responses)
	o["requestBody"] = body
	return o
}

// oaEmbed returns a manifest schema for components/schemas/name. Its local
// references ("#/$defs/...", which only recursive definitions keep) are
// relative to the schema, so they are rewritten to point into the
// document. Decoding keeps numbers as written.
func oaEmbed(name string, raw json.RawMessage) any {
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

// oaAdminParams are the parameters of /admin/{route}/{aggregate}/{id}.
func oaAdminParams(aggregates []string, extra map[string]any) []any {
	ps := []any{
		map[string]any{"name": "aggregate", "in": "path", "required": true, "schema": map[string]any{"enum": aggregates}},
		oaRef("parameters", "id"),
	}
	if extra != nil {
		ps = append(ps, extra)
	}
	return ps
}

func oaOp(id, summary, description string, params []any, responses map[string]any) map[string]any {
	o := map[string]any{"operationId": id, "summary": summary, "responses": responses}
	if description != "" {
		o["description"] = description
	}
	if len(params) > 0 {
		o["parameters"] = params
	}
	return o
}

func oaRef(kind, name string) map[string]any {
	return map[string]any{"$ref": "#/components/" + kind + "/" + name}
}

func oaHeader(name string, required bool, description string) map[string]any {
	return map[string]any{"name": name, "in": "header", "required": required, "description": description, "schema": oaString}
}

func oaJSON(description string, schema any, headers map[string]any) map[string]any {
	r := map[string]any{"description": description, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
	if headers != nil {
		r["headers"] = headers
	}
	return r
}

func oaProblem(description string) map[string]any {
	return map[string]any{"description": description,
		"content": map[string]any{"application/problem+json": map[string]any{"schema": oaRef("schemas", "Problem")}}}
}

func oaUnauthorized(description string) map[string]any {
	r := oaProblem("unauthorized: " + description)
	r["headers"] = map[string]any{"WWW-Authenticate": map[string]any{"schema": map[string]any{"const": `Bearer realm="cuesource"`}}}
	return r
}

// oaObject is an object schema whose properties are all required.
func oaObject(props map[string]any) map[string]any {
	return map[string]any{"type": "object", "properties": props, "required": slices.Sorted(maps.Keys(props))}
}

var (
	oaString  = map[string]any{"type": "string"}
	oaVersion = map[string]any{"type": "integer", "minimum": 0, "description": "The instance's version: its number of events."}
	// oaETag is the headers object of answers that carry an ETag.
	oaETag     = map[string]any{"ETag": oaRef("headers", "ETag")}
	oaLocation = map[string]any{"description": "The instance's path.", "schema": oaString}
)

var oaProblemSchema = map[string]any{
	"type":        "object",
	"description": "An RFC 9457 problem. The extensions appear when they apply.",
	"required":    []any{"type", "title", "status", "detail", "kind"},
	"properties": map[string]any{
		"type":   map[string]any{"type": "string", "format": "uri", "description": ProblemType + "<kind>"},
		"title":  oaString,
		"status": map[string]any{"type": "integer"},
		"detail": oaString,
		"kind":   oaString,
		"name":   map[string]any{"type": "string", "description": "The guard or invariant that refused the command."},
		"violations": map[string]any{"type": "array", "description": "Where the payload does not fit its schema.",
			"items": oaObject(map[string]any{
				"pointer": map[string]any{"type": "string", "description": "RFC 6901 pointer into the payload."},
				"message": oaString,
			})},
		"version":   map[string]any{"type": "integer", "description": "The instance's current version (412, concurrent_write)."},
		"etag":      map[string]any{"type": "string", "description": "The instance's current ETag (412)."},
		"at":        map[string]any{"type": "string", "description": "The source position of the expression that failed."},
		"parameter": map[string]any{"type": "string", "description": "The query parameter that is wrong."},
	},
}

// oaEventSchema is store.Event as the log endpoints answer it.
var oaEventSchema = func() map[string]any {
	s := oaObject(map[string]any{
		"id":            oaString,
		"position":      map[string]any{"type": "integer", "minimum": 1, "description": "In the global log."},
		"aggregate":     oaString,
		"instance":      oaString,
		"version":       map[string]any{"type": "integer", "minimum": 1, "description": "In the instance."},
		"type":          oaString,
		"schemaVersion": map[string]any{"type": "integer", "minimum": 0, "description": "The payload's version: the current one unless ?raw or ?pin."},
		"time":          map[string]any{"type": "string", "format": "date-time"},
		"commandId":     oaString,
		"payload":       map[string]any{},
	})
	s["properties"].(map[string]any)["meta"] = map[string]any{"type": "object"} // optional
	return s
}()

// oaDecidedEventSchema is an event as a command's answer lists it.
var oaDecidedEventSchema = oaObject(map[string]any{
	"id":      oaString,
	"type":    oaString,
	"version": map[string]any{"type": "integer", "minimum": 1},
	"time":    map[string]any{"type": "string", "format": "date-time"},
	"payload": map[string]any{},
})

var oaDriftSchema = func() map[string]any {
	s := oaObject(map[string]any{
		"aggregate": oaString,
		"id":        oaString,
		"version":   map[string]any{"type": "integer"},
		"events":    map[string]any{"type": "integer", "description": "How many events were replayed."},
		"drifted":   map[string]any{"type": "boolean", "description": "The stored state differs from the rebuilt one."},
		"fixed":     map[string]any{"type": "boolean", "description": "The rebuilt state was stored."},
	})
	props := s["properties"].(map[string]any)
	props["stored"] = map[string]any{"description": "The stored state."}
	props["rebuilt"] = map[string]any{"description": "The state the events give."}
	props["error"] = map[string]any{"type": "string", "description": "Why the replay failed."}
	return s
}()

// oaReadSide describes the queries, the projections' status and actions,
// and the dead-letter list.
func oaReadSide(m *manifest.Manifest, add func(at oaAt, o map[string]any), schemas map[string]any) {
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
		add(oaPath("query", "name", name), oaOp("query."+name, "Query "+name, "```sql\n"+q.SQL+"\n```", params, map[string]any{
			"200": oaJSON("The rows.", oaObject(map[string]any{
				"query": map[string]any{"const": name},
				"rows":  map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
			}), nil),
			"400": oaProblem("invalid_parameter: the parameters do not fit #params (violations name them)."),
			"401": oaRef("responses", "Unauthorized"),
			"422": oaProblem("query_too_large: the result is over the context's queryRows or queryBytes limit (limit says which)."),
			"503": oaProblem("query_timeout: the query ran out of time and was stopped; retry after Retry-After."),
		}))
	}
	if len(m.Projections) > 0 {
		schemas["ProjectionStatus"] = oaObject(map[string]any{
			"name": oaString, "mode": map[string]any{"enum": []string{"inline", "async"}},
			"state":    map[string]any{"enum": []string{"running", "failed", "rebuilding"}},
			"position": oaVersion, "head": oaVersion, "lag": oaVersion, "hash": oaString, "error": oaString, "errorPosition": oaVersion,
		})
		add(oaPath("projections"), oaOp("projections", "Projection status",
			"Every projection's position in the log, its lag behind the head, and its state; a failed one names the position and error it stopped at.", nil,
			map[string]any{
				"200": oaJSON("The projections.", oaObject(map[string]any{"projections": map[string]any{"type": "array", "items": oaRef("schemas", "ProjectionStatus")}}), nil),
				"401": oaRef("responses", "Unauthorized"),
			}))
		action := oaOp("projections.action", "Rebuild, skip or resume a projection",
			"rebuild drops the table and replays the log; skip moves a failed projection past the event it failed on; resume retries it. Admin token.",
			[]any{
				map[string]any{"name": "name", "in": "path", "required": true, "schema": map[string]any{"enum": slices.Sorted(maps.Keys(m.Projections))}},
				map[string]any{"name": "action", "in": "path", "required": true, "schema": map[string]any{"enum": []string{"rebuild", "skip", "resume"}}},
			},
			map[string]any{
				"200": oaJSON("The projection's status after the action.", oaRef("schemas", "ProjectionStatus"), nil),
				"401": oaUnauthorized("the request did not send the admin token."),
				"404": oaProblem("not_found (the server has no admin token) or unknown_projection."),
			})
		action["security"] = []any{map[string]any{"admin": []any{}}}
		add(oaPath("projections.action"), action)
	}
	if len(m.Effects) > 0 {
		schemas["DeadLetter"] = oaObject(map[string]any{
			"id": oaVersion, "effect": oaString, "eventId": oaString, "attempts": oaVersion, "error": oaString,
			"rejection": map[string]any{"type": "object"}, "time": map[string]any{"type": "string", "format": "date-time"},
		})
		admin := []any{map[string]any{"admin": []any{}}}
		idParam := map[string]any{"name": "id", "in": "path", "required": true, "schema": map[string]any{"type": "integer"}}
		list := oaOp("deadLetters.list", "Dead letters", "Deliveries of effects that gave up after their retries, or whose command was rejected for good.", nil,
			map[string]any{"200": oaJSON("The dead letters.", oaObject(map[string]any{"deadLetters": map[string]any{"type": "array", "items": oaRef("schemas", "DeadLetter")}}), nil),
				"401": oaUnauthorized("the request did not send the admin token.")})
		retry := oaOp("deadLetters.retry", "Retry a dead letter", "Moves it back to the outbox, due now.", []any{idParam},
			map[string]any{"204": map[string]any{"description": "Queued again."}, "404": oaProblem("unknown_dead_letter."),
				"400": oaProblem("invalid_path: the id is not a number."),
				"401": oaUnauthorized("the request did not send the admin token.")})
		discard := oaOp("deadLetters.discard", "Discard a dead letter", "", []any{idParam},
			map[string]any{"204": map[string]any{"description": "Discarded."}, "404": oaProblem("unknown_dead_letter."),
				"400": oaProblem("invalid_path: the id is not a number."),
				"401": oaUnauthorized("the request did not send the admin token.")})
		for _, o := range []map[string]any{list, retry, discard} {
			o["security"] = admin
		}
		add(oaPath("deadLetters.list"), list)
		add(oaPath("deadLetters.retry"), retry)
		add(oaPath("deadLetters.discard"), discard)
	}
}
