package api_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/api"
	"github.com/cuesource/cuesource/archive"
)

// archived is a server whose archive (a directory) holds segments of
// positions 1-2, 3-4 and 5-6 of its log, recorded in its index, and a
// leftover; it returns the directory.
func archived(t *testing.T) (*server, archive.Dir) {
	t.Helper()
	dir := archive.Dir(t.TempDir())
	served := &archive.Served{Target: dir}
	s := newServer(t, api.Options{AdminToken: "adm", Archive: served})
	served.Index = s.store
	s.post("/cart/c1/Open", openAda, http.StatusCreated)
	for range 5 {
		s.post("/cart/c1/AddItem", tea, http.StatusOK)
	}
	evs, err := s.store.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	require.Len(t, evs, 6)
	for i := 0; i < 6; i += 2 {
		lines, seg, err := archive.Lines(evs[i : i+2])
		require.NoError(t, err)
		data, err := archive.Gzip().Compress(t.Context(), lines)
		require.NoError(t, err)
		seg.Seal(data)
		require.NoError(t, dir.Put(t.Context(), seg.Name, data))
		require.NoError(t, s.store.AddSegment(t.Context(), seg))
	}
	require.NoError(t, dir.Put(t.Context(), archive.Name(7, 9), []byte("left by a step")))
	return s, dir
}

// GET /admin/archive/segments pages the index by position, each entry
// with the hot store's count; its bounds are typed 400s.
func TestArchiveSegmentsPaged(t *testing.T) {
	s, _ := archived(t)
	adm := []string{"Authorization", "Bearer adm"}
	type page struct {
		Segments []archive.Entry `json:"segments"`
		Next     int64           `json:"next"`
	}
	read := func(q string) page {
		t.Helper()
		r := s.do("GET", "/admin/archive/segments"+q, "", adm...)
		require.Equal(t, 200, r.Status, "%s", r)
		var p page
		require.NoError(t, json.Unmarshal(r.Body, &p))
		return p
	}
	firsts := func(p page) (out []int64) {
		for _, e := range p.Segments {
			out = append(out, e.First)
		}
		return out
	}
	p := read("?limit=2")
	assert.Equal(t, []int64{1, 3}, firsts(p))
	assert.Equal(t, int64(4), p.Next)
	assert.Equal(t, int64(2), p.Segments[0].Count)
	assert.Equal(t, int64(2), p.Segments[0].Counted, "both its events are still hot")
	assert.Equal(t, archive.Name(1, 2), p.Segments[0].Name)
	p = read(fmt.Sprintf("?after=%d&limit=2", p.Next))
	assert.Equal(t, []int64{5}, firsts(p))
	assert.Equal(t, []int64{3, 5}, firsts(read("?after=3")), "from the segment holding after+1")
	p = read("?after=6")
	assert.Empty(t, p.Segments)
	assert.Equal(t, int64(6), p.Next, "an empty page ends the index")

	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=x", "?after=-1", "?after=1.5"} {
		r := s.do("GET", "/admin/archive/segments"+q, "", adm...)
		assert.Equal(t, 400, r.Status, "%s: %s", q, r)
		assert.Equal(t, "invalid_parameter", r.json(t)["kind"], q)
	}
	assert.Equal(t, 401, s.do("GET", "/admin/archive/segments", "").Status)
	assert.Equal(t, 405, s.do("POST", "/admin/archive/segments", "", adm...).Status)
}

// GET /admin/archive/segments/{name} serves an object's bytes as stored,
// base64; a name the archive does not hold is a typed 404, and an object
// over the bound a typed 422 (archive.TestServedObjectChecksTheSizeFirst:
// its size is read, not its bytes).
func TestArchiveObject(t *testing.T) {
	s, dir := archived(t)
	adm := []string{"Authorization", "Bearer adm"}
	name := archive.Name(3, 4)
	r := s.do("GET", "/admin/archive/segments/"+name, "", adm...)
	require.Equal(t, 200, r.Status, "%s", r)
	var obj struct {
		Name  string `json:"name"`
		Bytes int64  `json:"bytes"`
		Data  string `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &obj))
	want, err := os.ReadFile(filepath.Join(string(dir), name))
	require.NoError(t, err)
	got, err := base64.StdEncoding.DecodeString(obj.Data)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, name, obj.Name)
	assert.Equal(t, int64(len(want)), obj.Bytes)

	for _, n := range []string{archive.Name(11, 12), "nope", "..%2F..%2Fetc%2Fpasswd", "%2E%2E%2F" + name} {
		r := s.do("GET", "/admin/archive/segments/"+n, "", adm...)
		assert.Equal(t, 404, r.Status, "%s: %s", n, r)
		assert.Equal(t, "object_not_found", r.json(t)["kind"], n)
	}

	big := archive.Name(100, 200)
	f, err := os.Create(filepath.Join(string(dir), big))
	require.NoError(t, err)
	require.NoError(t, f.Truncate(api.MaxArchiveObject+1)) // sparse: costs no disk
	require.NoError(t, f.Close())
	r = s.do("GET", "/admin/archive/segments/"+big, "", adm...)
	assert.Equal(t, 422, r.Status, "%s", r)
	assert.Equal(t, "object_too_large", r.json(t)["kind"])
	assert.EqualValues(t, api.MaxArchiveObject+1, r.json(t)["bytes"])
}

// GET /admin/archive/objects pages the target's names, leftovers
// included.
func TestArchiveObjects(t *testing.T) {
	s, _ := archived(t)
	adm := []string{"Authorization", "Bearer adm"}
	var names []string
	for after := ""; ; {
		r := s.do("GET", "/admin/archive/objects?limit=2&after="+after, "", adm...)
		require.Equal(t, 200, r.Status, "%s", r)
		var p struct {
			Names []string `json:"names"`
			Next  string   `json:"next"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &p))
		require.LessOrEqual(t, len(p.Names), 2)
		if len(p.Names) == 0 {
			assert.Equal(t, after, p.Next)
			break
		}
		names, after = append(names, p.Names...), p.Next
	}
	assert.Equal(t, []string{archive.Name(1, 2), archive.Name(3, 4), archive.Name(5, 6), archive.Name(7, 9)}, names)
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=-3", "?after=" + strings.Repeat("x", 1025)} {
		r := s.do("GET", "/admin/archive/objects"+q, "", adm...)
		assert.Equal(t, 400, r.Status, "%s: %s", q, r)
		assert.Equal(t, "invalid_parameter", r.json(t)["kind"], q)
	}
}

// Without an archive the routes answer a typed 404, as the other parts a
// runtime may lack.
func TestArchiveRoutesWithoutArchive(t *testing.T) {
	s := newServer(t, api.Options{AdminToken: "adm"})
	for _, p := range []string{"/admin/archive/segments", "/admin/archive/segments/" + archive.Name(1, 2), "/admin/archive/objects"} {
		r := s.do("GET", p, "", "Authorization", "Bearer adm")
		assert.Equal(t, 404, r.Status, "%s: %s", p, r)
		assert.Contains(t, string(r.Body), "this server has no archive", p)
	}
}
