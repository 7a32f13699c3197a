package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
)

// Codec compresses a segment's lines for its target and reads them back.
// Segments are gzip whoever writes them: natively [Gzip] (Go's
// compress/gzip); on Workers the platform's CompressionStream, which
// keeps compress/flate out of the engine's wasm build. Either reads the
// other's segments.
type Codec interface {
	Compress(ctx context.Context, lines []byte) ([]byte, error)
	Decompress(ctx context.Context, data []byte) ([]byte, error)
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
