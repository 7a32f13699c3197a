package api

import (
	"errors"
	"net/url"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
)

// Answer is the HTTP response of a command's or a seed's answer on the
// instance aggregate/id: 200 (201 when it created the instance, with its
// Location) with the result and the ETag of its version, or the problem
// of its rejection.
func Answer(a cuesource.Answer, aggregate, id string) Response {
	if rej := a.Rejection; rej != nil {
		return rejection(rej)
	}
	r := Response{Status: statusOK, Header: Header{
		"Content-Type": {"application/json"},
		"ETag":         {ETag(a.Version)},
	}, Body: a.Body}
	if a.Created {
		r.Status = statusCreated
		r.Header.Set("Location", InstancePath(aggregate, id))
	}
	if a.Replayed {
		r.Header.Set("Idempotent-Replayed", "true")
	}
	return r
}

// InstancePath is the URL path of an instance.
func InstancePath(aggregate, id string) string {
	return "/" + url.PathEscape(aggregate) + "/" + url.PathEscape(id)
}

// statusOf maps rejection kinds to HTTP status codes; a kind without one
// is a 500.
var statusOf = map[engine.Kind]int{
	engine.KindInvalidJSON:        statusBadRequest,
	engine.KindTooLarge:           statusRequestEntityTooLarge,
	engine.KindTooDeep:            statusBadRequest,
	engine.KindSchema:             statusBadRequest,
	engine.KindUnknownAggregate:   statusNotFound,
	engine.KindUnknownCommand:     statusNotFound,
	engine.KindUnknownEvent:       statusBadRequest, // a seed naming no event of the aggregate
	engine.KindInstanceMissing:    statusNotFound,
	engine.KindInstanceExists:     statusConflict,
	engine.KindVersionConflict:    statusPreconditionFailed,
	engine.KindGuard:              statusUnprocessableEntity,
	engine.KindInvariant:          statusUnprocessableEntity,
	engine.KindForbidden:          statusForbidden,
	engine.KindBudget:             statusUnprocessableEntity,
	engine.KindStateTooLarge:      statusUnprocessableEntity,
	engine.KindEventTooLarge:      statusUnprocessableEntity,
	engine.KindExpression:         statusInternalServerError,
	engine.KindInvalidState:       statusInternalServerError,
	cuesource.KindInvalidID:       statusBadRequest,
	cuesource.KindInvalidBody:     statusBadRequest,
	cuesource.KindLensFailed:      statusBadRequest, // a seeded event's, which the client wrote
	cuesource.KindKeyReused:       statusConflict,
	cuesource.KindConcurrentWrite: statusConflict,
	cuesource.KindUniqueViolation: statusConflict,
	cuesource.KindInvalidKey:      statusUnprocessableEntity,
	cuesource.KindKeyNotHeld:      statusNotFound,
}

// rejection is the problem+json of a rejection: its kind and message, and
// what it names (a guard, violations, the failing expression, a version, a
// limit) as extension members.
func rejection(rej *cuesource.Rejection) Response {
	if rej.Kind == cuesource.KindInternal {
		return internal(errors.New(rej.Message))
	}
	status, ok := statusOf[rej.Kind]
	if !ok {
		status = statusInternalServerError
	}
	if rej.Status != 0 {
		status = rej.Status // the guard's own
	}
	ext := map[string]any{}
	if rej.Name != "" {
		ext["name"] = rej.Name
	}
	if len(rej.Violations) > 0 {
		ext["violations"] = rej.Violations
	}
	if rej.At != "" {
		ext["at"] = rej.At
	}
	switch rej.Kind {
	case engine.KindVersionConflict:
		ext["version"], ext["etag"] = rej.Current, ETag(rej.Current)
	case cuesource.KindConcurrentWrite:
		ext["version"] = rej.Current
	}
	if rej.Limit != "" {
		ext["limit"], ext["max"], ext["size"] = rej.Limit, rej.Max, rej.Size
	}
	if rej.Constraint != "" {
		ext["constraint"], ext["key"] = rej.Constraint, rej.Key
		if rej.Holder != "" {
			ext["holder"] = rej.Holder
		}
	}
	return problemWith(status, string(rej.Kind), rej.Message, ext)
}
