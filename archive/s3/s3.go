package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/cuesource/cuesource/archive"
)

// EndpointVar names the variable holding the endpoint of an S3-compatible
// service (https://host[:port], or http:// for a local one); unset: AWS S3.
const EndpointVar = "CUESOURCE_S3_ENDPOINT"

// Bucket is an archive.Target in a bucket, under a prefix.
type Bucket struct {
	c              *minio.Client
	bucket, prefix string
}

var (
	_ archive.Target = (*Bucket)(nil)
	_ archive.Sizer  = (*Bucket)(nil)
)

// Open makes the target an s3://bucket/prefix URL names, with the
// endpoint, credentials and region getenv gives.
func Open(raw string, getenv func(string) string) (*Bucket, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("archive: %q is not an s3://bucket/prefix URL", raw)
	}
	host, secure := "s3.amazonaws.com", true
	if ep := getenv(EndpointVar); ep != "" {
		e, err := url.Parse(ep)
		if err != nil || e.Host == "" || (e.Scheme != "https" && e.Scheme != "http") || (e.Path != "" && e.Path != "/") {
			return nil, fmt.Errorf("archive: %s=%q is not an http(s)://host[:port] endpoint", EndpointVar, ep)
		}
		host, secure = e.Host, e.Scheme == "https"
	}
	creds := credentials.NewStatic(getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY"), getenv("AWS_SESSION_TOKEN"), credentials.SignatureV4)
	c, err := minio.New(host, &minio.Options{Creds: creds, Secure: secure, Region: getenv("AWS_REGION"), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return nil, fmt.Errorf("archive: %s: %v", raw, err)
	}
	prefix := strings.Trim(u.Path, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &Bucket{c: c, bucket: u.Host, prefix: prefix}, nil
}

func (b *Bucket) String() string { return "s3://" + b.bucket + "/" + b.prefix }

// Put stores the segment in one PUT: an object is whole or absent, and a
// repeated step replaces it.
func (b *Bucket) Put(ctx context.Context, name string, data []byte) error {
	_, err := b.c.PutObject(ctx, b.bucket, b.prefix+name, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: "application/gzip", DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("archive: put %s%s: %w", b, name, err)
	}
	return nil
}

// Get reads a segment; a missing one wraps archive.ErrNotFound.
func (b *Bucket) Get(ctx context.Context, name string) ([]byte, error) {
	obj, err := b.c.GetObject(ctx, b.bucket, b.prefix+name, minio.GetObjectOptions{})
	if err == nil {
		defer obj.Close()
		var data []byte
		if data, err = io.ReadAll(obj); err == nil {
			return data, nil
		}
	}
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return nil, fmt.Errorf("%w: %s%s", archive.ErrNotFound, b, name)
	}
	return nil, fmt.Errorf("archive: get %s%s: %w", b, name, err)
}

// Size implements archive.Sizer: one HEAD, so that an object over the
// bound the admin route serves is never read.
func (b *Bucket) Size(ctx context.Context, name string) (int64, error) {
	info, err := b.c.StatObject(ctx, b.bucket, b.prefix+name, minio.StatObjectOptions{})
	if err == nil {
		return info.Size, nil
	}
	if code := minio.ToErrorResponse(err).Code; code == minio.NoSuchKey || code == "NotFound" {
		return 0, fmt.Errorf("%w: %s%s", archive.ErrNotFound, b, name)
	}
	return 0, fmt.Errorf("archive: stat %s%s: %w", b, name, err)
}

// List names the segments under the prefix, in name order.
func (b *Bucket) List(ctx context.Context) ([]string, error) { return b.ListAfter(ctx, "", -1) }

// ListAfter implements archive.ListerAfter: up to n names after `after`
// (n < 0: every one), the bucket listing from there (StartAfter), so a
// page of GET /admin/archive/objects reads no more of the bucket than it
// answers.
func (b *Bucket) ListAfter(ctx context.Context, after string, n int) ([]string, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing once n names are in
	opt := minio.ListObjectsOptions{Prefix: b.prefix, Recursive: true}
	if after != "" {
		opt.StartAfter = b.prefix + after
	}
	var names []string
	for o := range b.c.ListObjects(ctx, b.bucket, opt) {
		if o.Err != nil {
			return nil, fmt.Errorf("archive: list %s: %w", b, o.Err)
		}
		name := strings.TrimPrefix(o.Key, b.prefix)
		if !archive.IsName(name) { // another object under the prefix: not the archive's
			continue
		}
		if names = append(names, name); len(names) == n {
			break
		}
	}
	slices.Sort(names)
	return names, nil
}

// errNoBucket is what a bucket that does not exist answers.
var errNoBucket = errors.New("no such bucket")

// Check reads the bucket once, so a server with a wrong bucket, endpoint
// or credentials says so at start rather than at its first archive step.
func (b *Bucket) Check(ctx context.Context) error {
	ok, err := b.c.BucketExists(ctx, b.bucket)
	switch {
	case err != nil:
		return fmt.Errorf("archive: %s: %w", b, err)
	case !ok:
		return fmt.Errorf("archive: %s: %w", b, errNoBucket)
	}
	return nil
}
