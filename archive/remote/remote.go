package remote

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/archive"
)

// Client reaches a server's admin routes.
type Client struct {
	// URL is the server's (or Worker's) base URL.
	URL string
	// Token is the server's admin token.
	Token string
	// HTTP sends the requests; nil: a client with a minute's timeout.
	HTTP *http.Client
}

// New returns a client of the server at base with the admin token.
func New(base, token string) *Client {
	return &Client{URL: strings.TrimRight(base, "/"), Token: token, HTTP: &http.Client{Timeout: time.Minute}}
}

// Response bounds: a page of the index (entries of about 300 bytes),
// one of names, one object (base64 and its name).
const (
	maxPage   = 4 << 20
	maxObject = api.MaxArchiveObject/3*4 + 4<<10
)

// Error is a problem a route answered.
type Error struct {
	URL    string
	Status int
	Kind   string
	Detail string
}

func (e *Error) Error() string {
	if e.Kind == "" {
		return fmt.Sprintf("GET %s: %d %s", e.URL, e.Status, e.Detail)
	}
	return fmt.Sprintf("GET %s: %d %s: %s", e.URL, e.Status, e.Kind, e.Detail)
}

// Is makes an object_not_found an archive.ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == archive.ErrNotFound && e.Kind == "object_not_found"
}

// get reads path?q into out, reading at most max bytes of the body.
func (c *Client) get(ctx context.Context, path string, q url.Values, max int64, out any) error {
	u := c.URL + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(body)) > max {
		return fmt.Errorf("GET %s: the answer is over %d bytes", u, max)
	}
	if resp.StatusCode != http.StatusOK {
		e := &Error{URL: u, Status: resp.StatusCode}
		var p struct{ Kind, Detail string }
		if json.Unmarshal(body, &p) == nil && p.Kind != "" {
			e.Kind, e.Detail = p.Kind, p.Detail
		} else {
			e.Detail = strings.TrimSpace(string(body[:min(len(body), 300)]))
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// Storage reads GET /admin/storage.
func (c *Client) Storage(ctx context.Context) (archive.Status, error) {
	var st archive.Status
	err := c.get(ctx, "/admin/storage", nil, maxPage, &st)
	return st, err
}

// Target is the server's archive target, read-only.
type Target struct{ C *Client }

var (
	_ archive.Target = Target{}
	_ archive.Index  = Index{}
	_ archive.Pager  = Index{}
)

func (t Target) String() string { return t.C.URL + "/admin/archive" }

// Put fails: the archive is the server's to write.
func (t Target) Put(context.Context, string, []byte) error {
	return errors.New("archive: " + t.String() + " is read-only")
}

// Get reads an object as stored (GET /admin/archive/segments/{name}).
func (t Target) Get(ctx context.Context, name string) ([]byte, error) {
	var obj struct {
		Bytes int64  `json:"bytes"`
		Data  string `json:"data"`
	}
	if err := t.C.get(ctx, "/admin/archive/segments/"+url.PathEscape(name), nil, maxObject, &obj); err != nil {
		return nil, err
	}
	data, err := base64.StdEncoding.DecodeString(obj.Data)
	if err != nil {
		return nil, fmt.Errorf("archive: %s from %s: %w", name, t, err)
	}
	if int64(len(data)) != obj.Bytes {
		return nil, fmt.Errorf("archive: %s from %s: %d bytes, the answer says %d", name, t, len(data), obj.Bytes)
	}
	return data, nil
}

// List names every object the target holds, in name order (GET
// /admin/archive/objects, page after page).
func (t Target) List(ctx context.Context) ([]string, error) {
	var out []string
	for after := ""; ; {
		var page struct {
			Names []string `json:"names"`
			Next  string   `json:"next"`
		}
		if err := t.C.get(ctx, "/admin/archive/objects", url.Values{"after": {after}}, maxPage, &page); err != nil {
			return nil, err
		}
		if len(page.Names) == 0 || page.Next <= after {
			sort.Strings(out)
			return out, nil
		}
		out, after = append(out, page.Names...), page.Next
	}
}

// Index is the server's segment index (GET /admin/archive/segments):
// an archive.Index, and an archive.Counter whose counts the server read
// with each entry.
type Index struct{ C *Client }

// SegmentsAfter reads one page of the index.
func (x Index) SegmentsAfter(ctx context.Context, after int64, n int) ([]archive.Entry, error) {
	var page struct {
		Segments []archive.Entry `json:"segments"`
	}
	q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(n)}}
	err := x.C.get(ctx, "/admin/archive/segments", q, maxPage, &page)
	return page.Segments, err
}

// SegmentsCounted implements archive.Counter: the whole index, a page at
// a time, each entry with the count the server read beside it.
func (x Index) SegmentsCounted(ctx context.Context) ([]archive.Segment, []int64, error) {
	var segs []archive.Segment
	var hot []int64
	for after := int64(0); ; {
		es, err := x.SegmentsAfter(ctx, after, api.MaxArchivePage)
		if err != nil {
			return nil, nil, err
		}
		if len(es) == 0 || es[len(es)-1].Last <= after {
			return segs, hot, nil
		}
		for _, e := range es {
			segs, hot = append(segs, e.Segment), append(hot, e.Counted)
		}
		after = es[len(es)-1].Last
	}
}

// Segments implements archive.Index.
func (x Index) Segments(ctx context.Context) ([]archive.Segment, error) {
	segs, _, err := x.SegmentsCounted(ctx)
	return segs, err
}

// SegmentAt implements archive.Index: the first entry holding a position
// at or above pos, if it holds pos.
func (x Index) SegmentAt(ctx context.Context, pos int64) (archive.Segment, bool, error) {
	es, err := x.SegmentsAfter(ctx, pos-1, 1)
	if err != nil || len(es) == 0 || es[0].First > pos {
		return archive.Segment{}, false, err
	}
	return es[0].Segment, true, nil
}
