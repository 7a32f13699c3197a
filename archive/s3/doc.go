// Package s3 keeps archive segments in an S3-compatible bucket (AWS S3,
// Cloudflare R2's S3 API, MinIO, ...): an archive.Target for `cuesource
// serve --archive s3://bucket/prefix`.
//
// # What it owns
//
// The mapping of a segment to an object (the prefix and the segment's
// name), and the configuration read from the environment: the endpoint
// (CUESOURCE_S3_ENDPOINT, else AWS S3), the credentials
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) and the
// region (AWS_REGION).
//
// # What it never does
//
// Decide what is archived, or read a segment's content: package archive
// writes and checks segments; this package stores and lists bytes. The S3
// protocol is minio-go's. It is never linked into the Worker's engine,
// which keeps its segments in R2 through the shell.
package s3
