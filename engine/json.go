package engine

import (
	"strconv"
	"time"

	"github.com/cuesource/cuesource/value"
)

// AppendJSON writes the event as encoding/json would, without reflection:
// decisions are encoded for every command.
func (e Event) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = value.AppendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = value.AppendString(b, e.Type)
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, e.Version, 10)
	b = append(b, `,"time":"`...)
	b = e.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","payload":`...)
	b, err := value.Append(b, e.Payload)
	if err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// AppendJSON writes the decision as encoding/json would.
func (d *Decision) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"events":`...)
	if d.Events == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, e := range d.Events {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = e.AppendJSON(b); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	b = append(b, `,"state":`...)
	b, err := value.Append(b, d.State)
	if err != nil {
		return nil, err
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, d.Version, 10)
	return append(b, '}'), nil
}

var (
	_ value.Appender = Event{}
	_ value.Appender = (*Decision)(nil)
)
