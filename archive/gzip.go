//go:build !js

package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"

	"github.com/cuesource/cuesource/retention"
	"github.com/cuesource/cuesource/store"
)

// What only the native runtime uses: Go's gzip and what defaults to it.
// Not built for GOOS=js, so the Worker's wasm links no compress/flate.

// New returns an archiver that writes gzip segments with [Gzip].
func New(hot Hot, target Target, ps retention.Policies, opt Options) *Archiver {
	return NewCodec(hot, target, Gzip(), ps, opt)
}

// NewReader reads the gzip segments idx names from t with [Gzip].
func NewReader(t Target, idx Index) *Reader { return &Reader{Target: t, Index: idx, Codec: Gzip()} }

// Encode makes the segment of evs (contiguous, in position order),
// gzip-compressed, as the archiver writes it.
func Encode(evs []store.Event) ([]byte, Segment, error) {
	return encodeWith(context.Background(), gzipCodec{}, evs)
}

// Gzip is Go's gzip codec. A function, not a variable, so that a build
// that never asks for it (the Worker's) does not link it.
func Gzip() Codec { return gzipCodec{} }

type gzipCodec struct{}

func (gzipCodec) Compress(_ context.Context, lines []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
	if _, err := zw.Write(lines); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (gzipCodec) Decompress(_ context.Context, data []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}
