package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/cuesource/cuesource"
	"github.com/cuesource/cuesource/engine"
	"github.com/cuesource/cuesource/value"
)

// givenEvent is one line of a --given file: the same shape as a scenario's
// given items. --record writes the version each event was written at, so
// a file recorded before a lens was added is read through it.
type givenEvent struct {
	Event   string          `json:"event"`
	Version *int            `json:"version,omitempty"`
	Payload json.RawMessage `json:"payload"`
}

func (c *command) run(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	agg := fs.String("aggregate", "", "the aggregate `NAME`")
	id := fs.String("id", "", "the instance `ID`")
	cmdName := fs.String("command", "", "the command `NAME`")
	payload := fs.String("payload", "{}", "the command payload as `JSON`")
	givenFile := fs.String("given", "", "a JSON `FILE` with the instance's past events: [{\"event\": ..., \"payload\": {...}}, ...]")
	cmdID := fs.String("command-id", "", "the command id (default: random)")
	at := fs.String("time", "", "the command time, RFC 3339 (default: now)")
	record := fs.Bool("record", false, "on success, append the new events to the --given file (created if missing), so runs can be chained")
	pos, ok := c.parse(fs, args, 1)
	if !ok {
		return 2
	}
	if *agg == "" || *id == "" || *cmdName == "" {
		fmt.Fprintln(c.stderr, "cuesource run: --aggregate, --id and --command are required")
		return 2
	}
	env := engine.Envelope{
		ID: *cmdID, Aggregate: *agg, Instance: *id, Command: *cmdName,
		Payload: json.RawMessage(*payload), ExpectedVersion: engine.AnyVersion, Time: time.Now().UTC(),
	}
	if env.ID == "" {
		env.ID = cuesource.NewID()
	}
	if *at != "" {
		t, err := time.Parse(time.RFC3339Nano, *at)
		if err != nil {
			fmt.Fprintf(c.stderr, "cuesource run: --time: %v\n", err)
			return 2
		}
		env.Time = t
	}
	p, ok := c.load(pos[0], false)
	if !ok {
		return 1
	}
	if *record && *givenFile == "" {
		fmt.Fprintln(c.stderr, "cuesource run: --record needs --given FILE")
		return 2
	}
	var given []engine.Event
	var items []givenEvent
	if *givenFile != "" {
		data, err := os.ReadFile(*givenFile)
		if *record && errors.Is(err, os.ErrNotExist) {
			data, err = []byte("[]"), nil
		}
		if err != nil {
			fmt.Fprintln(c.stderr, "cuesource run:", err)
			return 1
		}
		if err := json.Unmarshal(data, &items); err != nil {
			fmt.Fprintf(c.stderr, "cuesource run: %s: %v\n", *givenFile, err)
			return 1
		}
		for i, it := range items {
			var pl any = map[string]any{}
			var err error
			if len(it.Payload) > 0 && string(it.Payload) != "null" {
				pl, err = value.Decode(it.Payload, value.Limits{})
			}
			typ := it.Event
			if err == nil && it.Version != nil {
				typ, pl, err = p.ReadEvent(*agg, it.Event, *it.Version, pl)
			}
			if err != nil {
				fmt.Fprintf(c.stderr, "cuesource run: %s: event %d: %v\n", *givenFile, i, err)
				return 1
			}
			given = append(given, engine.Event{ID: fmt.Sprintf("given-%d", i+1), Type: typ, Version: int64(i + 1), Time: env.Time, Payload: pl})
		}
	}
	opt := engine.Options{Strict: true}
	cur, err := engine.Fold(p, *agg, *id, given, opt)
	if err != nil {
		fmt.Fprintf(c.stderr, "cuesource run: replaying %s: %v\n", *givenFile, err)
		return 1
	}
	before := cur.State
	if cur.Version == 0 {
		before = nil
	}
	d, err := engine.Decide(p, cur, env, opt)
	if err != nil {
		var ee *engine.Error
		if !errors.As(err, &ee) {
			ee = &engine.Error{Kind: engine.KindExpression, Message: err.Error()}
		}
		c.json(map[string]any{"ok": false, "error": ee, "state": before, "version": cur.Version})
		return 1
	}
	events := d.Events
	if events == nil {
		events = []engine.Event{}
	}
	if *record {
		for _, e := range events {
			pl, _ := value.Encode(e.Payload)
			v := p.Aggregates[*agg].Events[e.Type].Version()
			items = append(items, givenEvent{Event: e.Type, Version: &v, Payload: pl})
		}
		data, _ := json.MarshalIndent(items, "", "  ")
		if err := os.WriteFile(*givenFile, append(data, '\n'), 0o644); err != nil {
			fmt.Fprintln(c.stderr, "cuesource run:", err)
			return 1
		}
	}
	c.json(map[string]any{"ok": true, "events": events, "state": d.State, "version": d.Version})
	return 0
}
