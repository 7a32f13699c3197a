package archive

import "context"

// Codec compresses a segment's lines for its target and reads them back.
// Segments are gzip whoever writes them: natively Gzip (Go's
// compress/gzip, gzip.go); on Workers the platform's CompressionStream,
// which keeps compress/flate out of the engine's wasm build (gzip.go is
// not built for GOOS=js). Either reads the other's segments.
type Codec interface {
	Compress(ctx context.Context, lines []byte) ([]byte, error)
	Decompress(ctx context.Context, data []byte) ([]byte, error)
}
