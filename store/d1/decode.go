package d1

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/cuesource/cuesource/store"
)

// TimeLayout is the text of every time the Workers runtime stores, in D1
// and in objects: UTC with milliseconds, as JavaScript's toISOString
// writes it, so texts compare in time order and both languages write the
// same text for the same instant.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime is t as stored (milliseconds: finer digits are dropped).
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// A row's values come as D1 or a Durable Object answers them through
// JSON (numbers are float64), or as database/sql scans them into an any
// (integers are int64): the decoders take both.

// Int is an INTEGER value.
func Int(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
			return 0, fmt.Errorf("want an integer, got %v", x)
		}
		return int64(x), nil
	case json.Number:
		return x.Int64()
	}
	return 0, fmt.Errorf("want an integer, got %s", kind(v))
}

// Text is a TEXT value that may not be NULL.
func Text(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", fmt.Errorf("want text, got %s", kind(v))
}

// NullText is a TEXT value or NULL (ok false).
func NullText(v any) (s string, ok bool, err error) {
	if v == nil {
		return "", false, nil
	}
	s, err = Text(v)
	return s, err == nil, err
}

// Time is a time stored as text (FormatTime, or any RFC 3339 time).
func Time(v any) (time.Time, error) {
	s, err := Text(v)
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time, got %q", s)
	}
	return t, nil
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "NULL"
	case string:
		return "text"
	case float64, int64, int, json.Number:
		return "a number"
	case []byte:
		return "a blob"
	}
	return fmt.Sprintf("%T", v)
}

// columns decodes a row column by column, keeping the first error with
// the name of its column.
type columns struct {
	names []string
	row   []any
	err   error
}

func newColumns(names []string, row []any, what string) *columns {
	c := &columns{names: names, row: row}
	if len(row) != len(names) {
		c.err = fmt.Errorf("d1: %s row has %d columns, want %d", what, len(row), len(names))
	}
	return c
}

func (c *columns) fail(i int, err error) {
	if c.err == nil && err != nil {
		c.err = fmt.Errorf("d1: column %s: %w", c.names[i], err)
	}
}

func (c *columns) int(i int) int64 {
	if c.err != nil {
		return 0
	}
	n, err := Int(c.row[i])
	c.fail(i, err)
	return n
}

func (c *columns) text(i int) string {
	if c.err != nil {
		return ""
	}
	s, err := Text(c.row[i])
	c.fail(i, err)
	return s
}

func (c *columns) nullText(i int) (string, bool) {
	if c.err != nil {
		return "", false
	}
	s, ok, err := NullText(c.row[i])
	c.fail(i, err)
	return s, ok
}

func (c *columns) time(i int) time.Time {
	if c.err != nil {
		return time.Time{}
	}
	t, err := Time(c.row[i])
	c.fail(i, err)
	return t
}

var eventNames = []string{"position", "id", "aggregate", "instance", "version", "type", "schema_version", "time", "command_id", "payload"}

// DecodeEvent decodes a row of EventColumns.
func DecodeEvent(row []any) (store.Event, error) {
	c := newColumns(eventNames, row, "event")
	e := store.Event{Position: c.int(0), ID: c.text(1), Aggregate: c.text(2), Instance: c.text(3), Version: c.int(4),
		Type: c.text(5), SchemaVersion: int(c.int(6)), Time: c.time(7), CommandID: c.text(8)}
	if p, ok := c.nullText(9); ok {
		e.Payload = json.RawMessage(p)
	}
	if c.err != nil {
		return store.Event{}, c.err
	}
	return e, nil
}

// Checkpoint is a projection's checkpoint row (of CheckpointAll).
type Checkpoint struct {
	Name          string
	Position      int64
	Hash          string
	State         string
	Error         string // "" when not failed
	ErrorPosition int64  // 0 when not failed
}

var checkpointNames = []string{"name", "position", "hash", "state", "error", "error_position"}

// DecodeCheckpoint decodes a row of CheckpointAll.
func DecodeCheckpoint(row []any) (Checkpoint, error) {
	c := newColumns(checkpointNames, row, "checkpoint")
	cp := Checkpoint{Name: c.text(0), Position: c.int(1), Hash: c.text(2), State: c.text(3), Error: c.text(4), ErrorPosition: c.int(5)}
	if c.err != nil {
		return Checkpoint{}, c.err
	}
	return cp, nil
}

var deadLetterNames = []string{"id", "event_id", "effect", "attempts", "error", "rejection", "time"}

// DecodeDeadLetter decodes a row of DeadLetterColumns; Consumer is the effect.
func DecodeDeadLetter(row []any) (store.DeadLetter, error) {
	c := newColumns(deadLetterNames, row, "dead letter")
	d := store.DeadLetter{ID: c.int(0), EventID: c.text(1), Consumer: c.text(2), Attempts: int(c.int(3)), Error: c.text(4)}
	if r, ok := c.nullText(5); ok && r != "" {
		d.Rejection = json.RawMessage(r)
	}
	d.Time = c.time(6)
	if c.err != nil {
		return store.DeadLetter{}, c.err
	}
	return d, nil
}
