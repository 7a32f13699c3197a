package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/cuesource/cuesource/store"
	"github.com/cuesource/cuesource/value"
)

// Segment describes one archived run of the log, as the index keeps it.
type Segment struct {
	Name      string    `json:"name"`
	First     int64     `json:"first"` // positions, inclusive
	Last      int64     `json:"last"`
	Count     int64     `json:"count"`
	FirstTime time.Time `json:"firstTime"`
	LastTime  time.Time `json:"lastTime"`
	Bytes     int64     `json:"bytes"`  // compressed, as stored
	SHA256    string    `json:"sha256"` // hex, of the stored bytes
	// Hot counts its events still in the hot store as well.
	Hot int64 `json:"hot"`
}

// Name is the file name of the segment of positions first..last.
func Name(first, last int64) string { return fmt.Sprintf("%020d-%020d.ndjson.gz", first, last) }

// Lines makes the lines of the segment of evs (contiguous, in position
// order), uncompressed, and its index entry but for what the compressed
// bytes give ([Segment.Seal]).
func Lines(evs []store.Event) ([]byte, Segment, error) {
	if len(evs) == 0 {
		return nil, Segment{}, errors.New("archive: empty segment")
	}
	var buf bytes.Buffer
	line := make([]byte, 0, 1024)
	for i, e := range evs {
		if i > 0 && e.Position != evs[i-1].Position+1 {
			return nil, Segment{}, fmt.Errorf("archive: segment not contiguous: %d after %d", e.Position, evs[i-1].Position)
		}
		line = append(AppendLine(line[:0], e), '\n')
		buf.Write(line)
	}
	first, last := evs[0], evs[len(evs)-1]
	s := Segment{Name: Name(first.Position, last.Position), First: first.Position, Last: last.Position, Count: int64(len(evs)),
		FirstTime: first.Time, LastTime: last.Time, Hot: int64(len(evs))}
	for _, e := range evs {
		s.FirstTime, s.LastTime = minTime(s.FirstTime, e.Time), maxTime(s.LastTime, e.Time)
	}
	return buf.Bytes(), s, nil
}

// Seal sets what the stored (compressed) bytes give: their size and
// checksum.
func (s *Segment) Seal(data []byte) {
	sum := sha256.Sum256(data)
	s.Bytes, s.SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// AppendLine appends e as export and GET /events write it (value.Encode
// of the event), except that its payload and meta are kept exactly as
// stored, not compacted: what is read back is what was written.
func AppendLine(b []byte, e store.Event) []byte {
	b = append(b, `{"id":`...)
	b = value.AppendString(b, e.ID)
	b = append(b, `,"position":`...)
	b = strconv.AppendInt(b, e.Position, 10)
	b = append(b, `,"aggregate":`...)
	b = value.AppendString(b, e.Aggregate)
	b = append(b, `,"instance":`...)
	b = value.AppendString(b, e.Instance)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, e.Version, 10)
	b = append(b, `,"type":`...)
	b = value.AppendString(b, e.Type)
	b = append(b, `,"schemaVersion":`...)
	b = strconv.AppendInt(b, int64(e.SchemaVersion), 10)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","commandId":`...)
	b = value.AppendString(b, e.CommandID)
	b = append(b, `,"payload":`...)
	if len(e.Payload) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, e.Payload...)
	}
	if len(e.Meta) > 0 {
		b = append(b, `,"meta":`...)
		b = append(b, e.Meta...)
	}
	return append(b, '}')
}

// SegmentError is a segment that cannot be read as its index entry says.
// It is a store.ErrArchiveUnreadable.
type SegmentError struct {
	Segment Segment
	Reason  string
}

func (e *SegmentError) Error() string {
	return fmt.Sprintf("archive: segment of positions %d-%d (%s): %s", e.Segment.First, e.Segment.Last, e.Segment.Name, e.Reason)
}

func (e *SegmentError) Is(target error) bool { return target == store.ErrArchiveUnreadable }

func decodeWith(ctx context.Context, c Codec, s Segment, data []byte) ([]store.Event, error) {
	if err := Check(s, data); err != nil {
		return nil, err
	}
	raw, err := c.Decompress(ctx, data)
	if err != nil {
		return nil, &SegmentError{Segment: s, Reason: fmt.Sprintf("does not decompress: %v", err)}
	}
	return ParseLines(s, raw)
}

// Check checks the stored bytes of a segment against its index entry:
// size and checksum.
func Check(s Segment, data []byte) error {
	if int64(len(data)) != s.Bytes {
		return &SegmentError{Segment: s, Reason: fmt.Sprintf("%d bytes, the index says %d", len(data), s.Bytes)}
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != s.SHA256 {
		return &SegmentError{Segment: s, Reason: "checksum mismatch"}
	}
	return nil
}

// ParseLines reads a segment's uncompressed lines, checking them against
// s: count and positions.
func ParseLines(s Segment, raw []byte) ([]store.Event, error) {
	bad := func(format string, args ...any) error {
		return &SegmentError{Segment: s, Reason: fmt.Sprintf(format, args...)}
	}
	evs := make([]store.Event, 0, s.Count)
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		var e store.Event
		// Unmarshal copies RawMessage bytes as they are in the line, so
		// payloads come back byte for byte.
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, bad("line %d: %v", len(evs)+1, err)
		}
		if want := s.First + int64(len(evs)); e.Position != want {
			return nil, bad("line %d holds position %d, want %d", len(evs)+1, e.Position, want)
		}
		evs = append(evs, e)
	}
	if int64(len(evs)) != s.Count || (len(evs) > 0 && evs[len(evs)-1].Position != s.Last) {
		return nil, bad("%d events, the index says %d (%d-%d)", len(evs), s.Count, s.First, s.Last)
	}
	return evs, nil
}
