package d1

import (
	"encoding/json"
	"errors"
	"strconv"
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
		if n := int64(x); float64(n) == x && x >= -1<<53 && x <= 1<<53 {
			return n, nil
		}
	}
	return 0, wrongType("an integer", v)
}

// Text is a TEXT value that may not be NULL.
func Text(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	return "", wrongType("text", v)
}

// wrongType words a value of the wrong type, in one place (each call is
// code in the wasm build).
func wrongType(want string, v any) error {
	got := "a number"
	switch x := v.(type) {
	case nil:
		got = "NULL"
	case string:
		got = "text"
	case float64:
		got = strconv.FormatFloat(x, 'g', -1, 64)
	case int64, int:
	case []byte:
		got = "a blob"
	default:
		got = "a value of another type"
	}
	return errors.New("want " + want + ", got " + got)
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
		return time.Time{}, errors.New("want an RFC 3339 time, got " + strconv.Quote(s))
	}
	return t, nil
}

// scan decodes row into dst, a pointer per column: *int64, *int, *string,
// *time.Time, or *json.RawMessage for text that may be NULL (nil then).
// It names the column of the first error. One loop over the columns keeps
// the decoders small in the wasm build.
func scan(what string, names []string, row []any, dst ...any) error {
	if len(row) != len(names) {
		return errors.New("d1: " + what + " row has " + strconv.Itoa(len(row)) + " columns, want " + strconv.Itoa(len(names)))
	}
	for i, d := range dst {
		var err error
		switch p := d.(type) {
		case *int64:
			*p, err = Int(row[i])
		case *int:
			var n int64
			n, err = Int(row[i])
			*p = int(n)
		case *string:
			*p, err = Text(row[i])
		case *time.Time:
			*p, err = Time(row[i])
		case *json.RawMessage:
			var s string
			var ok bool
			if s, ok, err = NullText(row[i]); ok {
				*p = json.RawMessage(s)
			}
		}
		if err != nil {
			return errors.New("d1: column " + names[i] + ": " + err.Error())
		}
	}
	return nil
}

var eventNames = []string{"position", "id", "aggregate", "instance", "version", "type", "schema_version", "time", "command_id", "payload", "meta"}

// DecodeEvent decodes a row of EventColumns.
func DecodeEvent(row []any) (store.Event, error) {
	var e store.Event
	if err := scan("event", eventNames, row, &e.Position, &e.ID, &e.Aggregate, &e.Instance, &e.Version, &e.Type, &e.SchemaVersion, &e.Time, &e.CommandID, &e.Payload, &e.Meta); err != nil {
		return store.Event{}, err
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
	var cp Checkpoint
	if err := scan("checkpoint", checkpointNames, row, &cp.Name, &cp.Position, &cp.Hash, &cp.State, &cp.Error, &cp.ErrorPosition); err != nil {
		return Checkpoint{}, err
	}
	return cp, nil
}

var deadLetterNames = []string{"id", "event_id", "effect", "attempts", "error", "rejection", "time"}

// DecodeDeadLetter decodes a row of DeadLetterColumns; Consumer is the effect.
func DecodeDeadLetter(row []any) (store.DeadLetter, error) {
	var d store.DeadLetter
	if err := scan("dead letter", deadLetterNames, row, &d.ID, &d.EventID, &d.Consumer, &d.Attempts, &d.Error, &d.Rejection, &d.Time); err != nil {
		return store.DeadLetter{}, err
	}
	if len(d.Rejection) == 0 {
		d.Rejection = nil
	}
	return d, nil
}

// DecodeHead decodes the rows of Head.
func DecodeHead(rows [][]any) (int64, error) {
	if len(rows) != 1 || len(rows[0]) != 1 {
		return 0, errHead
	}
	return Int(rows[0][0])
}

var errHead = errors.New("d1: the head is not one value")

var redeliveryNames = []string{"effect", "event"}

// DecodeRedelivery decodes a row of DeadLetterGet: the effect and the
// event as JSON.
func DecodeRedelivery(row []any) (effect string, event json.RawMessage, err error) {
	err = scan("dead letter", redeliveryNames, row, &effect, &event)
	return effect, event, err
}
