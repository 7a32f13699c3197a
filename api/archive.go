package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"

	"github.com/cuesource/cuesource/value"
)

// Archive is what a runtime with an archive serves its admin (GET
// /admin/archive/...): the segment index and the target's objects as
// stored. `cuesource archive verify|restore --url` checks and reads them
// on the admin's machine: checking gigabytes inside a request would
// outlast a Worker's CPU limits. Natively and on Workers an
// archive.Served; an interface here so that this package carries none
// of the archive's code.
type Archive interface {
	// Segments returns up to n index entries holding positions above
	// after, in position order (JSON values), and the last position of
	// the last (after when there is none): the next page's after.
	Segments(ctx context.Context, after int64, n int) (entries any, next int64, err error)
	// Object returns the target's object called name and its size: -1
	// when the target has none, data nil when it is over max bytes.
	Object(ctx context.Context, name string, max int64) (data []byte, size int64, err error)
	// Objects returns up to n names the target holds after `after`, in
	// name order.
	Objects(ctx context.Context, after string, n int) ([]string, error)
}

// Bounds of the archive's admin routes.
const (
	// MaxArchivePage bounds a page of GET /admin/archive/segments and of
	// GET /admin/archive/objects (entries of about 300 bytes, names of 51).
	MaxArchivePage = 1000
	// MaxArchiveObject bounds the object GET /admin/archive/segments/{name}
	// serves: the archiver writes a segment of one page of events (about
	// 4 MiB of payloads, and one event more) and their other fields,
	// compressed, so a segment is well under it. Served as base64 in
	// JSON (the Worker's response body is a JavaScript string, which
	// cannot carry raw binary), it takes 4/3 of that and more.
	MaxArchiveObject = 16 << 20
)

// WithArchive returns a copy of s whose GET /admin/archive/... serve a: a
// runtime that reaches its archive per request (the Workers core).
func (s *Service) WithArchive(a Archive) *Service {
	c := *s
	c.opt.Archive = a
	return &c
}

// archiveSegments answers GET /admin/archive/segments?after=P&limit=N.
func (s *Service) archiveSegments(ctx context.Context, c *call) Response {
	after, bad := intParam(c.r.Query, "after", 0, 0, 1<<62)
	if bad != nil {
		return *bad
	}
	limit, bad := intParam(c.r.Query, "limit", 100, 1, MaxArchivePage)
	if bad != nil {
		return *bad
	}
	es, next, err := s.opt.Archive.Segments(ctx, after, int(limit))
	if err != nil {
		return internal(err)
	}
	return jsonResponse(statusOK, map[string]any{"segments": es, "next": next})
}

// archiveObject answers GET /admin/archive/segments/{name}: the object's
// bytes, base64.
func (s *Service) archiveObject(ctx context.Context, c *call) Response {
	name := c.p["name"]
	data, size, err := s.opt.Archive.Object(ctx, name, MaxArchiveObject)
	switch {
	case err != nil:
		return internal(err)
	case size < 0:
		return problemWith(statusNotFound, "object_not_found", fmt.Sprintf("the archive holds no segment named %.80q", name), map[string]any{"name": name})
	case data == nil:
		return problemWith(statusUnprocessableEntity, "object_too_large",
			fmt.Sprintf("segment %s is %d bytes, over the %d this route serves: verify it where it is kept (cuesource archive verify --archive)", name, size, MaxArchiveObject),
			map[string]any{"name": name, "bytes": size, "limit": MaxArchiveObject})
	}
	body := make([]byte, 0, base64.StdEncoding.EncodedLen(len(data))+len(name)+64)
	body = append(body, `{"name":`...)
	body = value.AppendString(body, name)
	body = append(body, `,"bytes":`...)
	body = strconv.AppendInt(body, size, 10)
	body = append(body, `,"data":"`...)
	body = base64.StdEncoding.AppendEncode(body, data)
	body = append(body, `"}`...)
	return Response{Status: statusOK, Header: Header{"Content-Type": {"application/json"}}, Body: body}
}

// archiveObjects answers GET /admin/archive/objects?after=NAME&limit=N.
func (s *Service) archiveObjects(ctx context.Context, c *call) Response {
	after := c.r.Query.Get("after")
	if len(after) > 1024 {
		return problemWith(statusBadRequest, "invalid_parameter", "query parameter after must be an object's name, at most 1024 bytes", map[string]any{"parameter": "after"})
	}
	limit, bad := intParam(c.r.Query, "limit", MaxArchivePage, 1, MaxArchivePage)
	if bad != nil {
		return *bad
	}
	names, err := s.opt.Archive.Objects(ctx, after, int(limit))
	if err != nil {
		return internal(err)
	}
	if names == nil {
		names = []string{}
	}
	next := after
	if len(names) > 0 {
		next = names[len(names)-1]
	}
	return jsonResponse(statusOK, map[string]any{"names": names, "next": next})
}
