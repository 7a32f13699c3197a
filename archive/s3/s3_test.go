package s3_test

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/cuesource/cuesource/archive"
	"github.com/cuesource/cuesource/archive/s3"
	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/store/sqlite"
)

// serve runs an S3-compatible server over HTTP (gofakes3, in memory) with
// the buckets named, and answers the environment that points at it.
func serve(t *testing.T, buckets ...string) func(string) string {
	t.Helper()
	be := s3mem.New()
	for _, b := range buckets {
		require.NoError(t, be.CreateBucket(b))
	}
	srv := httptest.NewServer(gofakes3.New(be).Server())
	t.Cleanup(srv.Close)
	env := map[string]string{s3.EndpointVar: srv.URL, "AWS_ACCESS_KEY_ID": "key", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1"}
	return func(k string) string { return env[k] }
}

// A segment put is read back whole, a missing one is archive.ErrNotFound,
// and List names the segments under the prefix only, in order.
func TestBucket(t *testing.T) {
	env := serve(t, "logs")
	b, err := s3.Open("s3://logs/shop/archive", env)
	require.NoError(t, err)
	require.NoError(t, b.Check(t.Context()))
	assert.Equal(t, "s3://logs/shop/archive/", b.String())

	other, err := s3.Open("s3://logs/other", env)
	require.NoError(t, err)
	require.NoError(t, other.Put(t.Context(), "00000000000000000001-00000000000000000002.ndjson.gz", []byte("not ours")))

	for _, name := range []string{"00000000000000000011-00000000000000000020.ndjson.gz", "00000000000000000001-00000000000000000010.ndjson.gz"} {
		require.NoError(t, b.Put(t.Context(), name, []byte("segment "+name)))
	}
	require.NoError(t, b.Put(t.Context(), "00000000000000000001-00000000000000000010.ndjson.gz", []byte("again"))) // a step repeated
	names, err := b.List(t.Context())
	require.NoError(t, err)
	assert.Equal(t, []string{"00000000000000000001-00000000000000000010.ndjson.gz", "00000000000000000011-00000000000000000020.ndjson.gz"}, names)
	// A page after a name: the listing starts there and stops at n.
	require.NoError(t, b.Put(t.Context(), "00000000000000000021-00000000000000000030.ndjson.gz", []byte("third")))
	names, err = b.ListAfter(t.Context(), "00000000000000000001-00000000000000000010.ndjson.gz", 1)
	require.NoError(t, err)
	assert.Equal(t, []string{"00000000000000000011-00000000000000000020.ndjson.gz"}, names)
	names, err = b.ListAfter(t.Context(), "00000000000000000021-00000000000000000030.ndjson.gz", 10)
	require.NoError(t, err)
	assert.Empty(t, names)
	got, err := b.Get(t.Context(), "00000000000000000001-00000000000000000010.ndjson.gz")
	require.NoError(t, err)
	assert.Equal(t, "again", string(got))
	_, err = b.Get(t.Context(), "00000000000000000031-00000000000000000040.ndjson.gz")
	assert.ErrorIs(t, err, archive.ErrNotFound)

	// Its size, without reading it (what the admin route checks first).
	n, err := b.Size(t.Context(), "00000000000000000001-00000000000000000010.ndjson.gz")
	require.NoError(t, err)
	assert.Equal(t, int64(len("again")), n)
	_, err = b.Size(t.Context(), "00000000000000000031-00000000000000000040.ndjson.gz")
	assert.ErrorIs(t, err, archive.ErrNotFound)
}

// A bucket that does not exist, and URLs or endpoints that name none, are
// refused with what is wrong.
func TestOpenRefuses(t *testing.T) {
	env := serve(t, "logs")
	b, err := s3.Open("s3://nope/x", env)
	require.NoError(t, err)
	assert.ErrorContains(t, b.Check(t.Context()), "no such bucket")
	for _, raw := range []string{"logs/x", "s3:///x", "file:///tmp"} {
		_, err := s3.Open(raw, env)
		assert.ErrorContains(t, err, "not an s3://bucket/prefix URL", raw)
	}
	_, err = s3.Open("s3://logs/x", func(k string) string {
		if k == s3.EndpointVar {
			return "ftp://host"
		}
		return ""
	})
	assert.ErrorContains(t, err, "endpoint")
}

// The archiver keeps its segments in the bucket as in a directory: the
// hot log fits its budget, the log reads whole byte for byte through the
// bucket, and Verify finds every segment as the index says.
func TestArchiveToABucket(t *testing.T) {
	b, err := s3.Open("s3://logs/shop", serve(t, "logs"))
	require.NoError(t, err)
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "db.sqlite"), sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	st.SetArchive(archive.NewReader(b, st))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	versions := map[string]int64{}
	for i := range 300 {
		id := fmt.Sprintf("c%d", i%5)
		_, err := st.Append(t.Context(), store.Commit{Aggregate: "cart", Instance: id, ExpectedVersion: versions[id], State: json.RawMessage(`{}`),
			Events: []store.Event{{ID: fmt.Sprintf("e%d", i), Type: "Added", Time: at.Add(time.Duration(i) * time.Second), CommandID: fmt.Sprintf("k%d", i),
				Payload: json.RawMessage(fmt.Sprintf(`{ "n": %d, "s": "<a & b>\u00e9" }`, i))}}})
		require.NoError(t, err)
		versions[id]++
	}
	before, err := st.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)

	ps := retention.Policies{HotBytes: 3000}
	rep, err := archive.New(st, b, ps, archive.Options{Window: 64, SegmentEvents: 100}).Run(t.Context())
	require.NoError(t, err)
	assert.Positive(t, rep.Pruned)
	hot, err := st.HotBytes(t.Context())
	require.NoError(t, err)
	assert.LessOrEqual(t, hot, ps.HotBytes)

	after, err := st.ReadAll(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Equal(t, before, after, "whole, in order, byte for byte, through the bucket")
	n, problems, err := archive.Verify(t.Context(), b, st)
	require.NoError(t, err)
	assert.Positive(t, n)
	assert.Empty(t, problems)
	names, err := b.List(t.Context())
	require.NoError(t, err)
	assert.Len(t, names, n)
	for _, name := range names {
		assert.True(t, strings.HasSuffix(name, ".ndjson.gz"), name)
	}
}
