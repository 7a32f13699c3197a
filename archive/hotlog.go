package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cuesource/cuesource/retention"
)

// The hot log's size as the byte budget counts it, kept by the stores in
// SQL: the same table, triggers and counting in SQLite natively and in
// D1, so both runtimes count alike.

// RowBytes is the SQL of what one event (of table alias t, with its dot)
// takes in the hot log as the byte budget counts it: the bytes of its
// values, plus 64 for its numbers and the row's own keeping.
func RowBytes(t string) string {
	return `(64 + length(CAST(` + t + `id AS BLOB)) + length(CAST(` + t + `aggregate AS BLOB)) + length(CAST(` + t + `instance AS BLOB))
	+ length(CAST(` + t + `type AS BLOB)) + length(CAST(` + t + `command_id AS BLOB))
	+ ifnull(length(CAST(` + t + `payload AS BLOB)), 0) + ifnull(length(CAST(` + t + `meta AS BLOB)), 0))`
}

// counts says whether the event at position p (SQL) is in hot_log's bytes:
// one written after the table was made (above base), or one the counting
// has reached (at counted or before).
func counts(p string) string {
	return `(` + p + ` > (SELECT base FROM hot_log) OR ` + p + ` <= (SELECT counted FROM hot_log))`
}

// HotLogSchema is the hot log's size, one row of hot_log, and the
// triggers on events that keep it in the transaction of every write that
// changes the log (appends, prunes, SQL run by hand). The events a log
// held when the table was made (at base and before) are counted apart,
// in bounded steps ([HotLogCount]) that carry counted up to base, so that
// making the table never reads the whole log in one statement; until
// counted reaches base the row is not yet the log's size. A store makes
// the row with [HotLogStart] (a new log: base 0) or counts a log it had.
var HotLogSchema = `CREATE TABLE IF NOT EXISTS hot_log (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	bytes   INTEGER NOT NULL,
	counted INTEGER NOT NULL,
	base    INTEGER NOT NULL
) STRICT;

CREATE TRIGGER IF NOT EXISTS hot_log_insert AFTER INSERT ON events WHEN ` + counts("NEW.position") + ` BEGIN
	UPDATE hot_log SET bytes = bytes + ` + RowBytes("NEW.") + `;
END;

CREATE TRIGGER IF NOT EXISTS hot_log_delete AFTER DELETE ON events WHEN ` + counts("OLD.position") + ` BEGIN
	UPDATE hot_log SET bytes = bytes - ` + RowBytes("OLD.") + `;
END;

CREATE TRIGGER IF NOT EXISTS hot_log_update AFTER UPDATE ON events BEGIN
	UPDATE hot_log SET bytes = bytes
		- (CASE WHEN ` + counts("OLD.position") + ` THEN ` + RowBytes("OLD.") + ` ELSE 0 END)
		+ (CASE WHEN ` + counts("NEW.position") + ` THEN ` + RowBytes("NEW.") + ` ELSE 0 END);
END;
`

// HotLogStart makes hot_log's row for the log as it is: base its head,
// nothing counted yet (a log made empty is counted at once). A no-op once
// the row exists.
const HotLogStart = `INSERT INTO hot_log (id, bytes, counted, base) SELECT 1, 0, 0, COALESCE(MAX(position), 0) FROM events WHERE true
ON CONFLICT (id) DO NOTHING`

// HotLogRead reads (bytes, counted, base): the size is the log's once
// counted reaches base.
const HotLogRead = `SELECT bytes, counted, base FROM hot_log WHERE id = 1`

// HotLogCount (n) counts the next n positions of the events the log held
// when hot_log was made: one bounded statement of the counting.
var HotLogCount = `UPDATE hot_log SET
	bytes = bytes + (SELECT COALESCE(SUM(` + RowBytes("") + `), 0) FROM events WHERE position > hot_log.counted AND position <= MIN(hot_log.counted + ?1, hot_log.base)),
	counted = MIN(counted + ?1, base)
WHERE id = 1 AND counted < base`

// HotLogCountAll counts, in one statement, every event the log held when
// hot_log was made: where a statement has no time limit (SQLite in the
// process), the counting is done when the table is made.
var HotLogCountAll = strings.Replace(HotLogCount, "?1", "hot_log.base", 2)

// HotLogStep is the most positions one HotLogCount counts: a bounded
// read of the log by its key, well within D1's time for a statement
// (fewer where the events are large: see internal/edge).
const HotLogStep = 20000

// CountingError is what a hot store answers for its size while it is
// still counting the events it held when its counter was made (D1 after
// migration 0004): the archiver then judges no byte budget, and the
// status says how far the counting is.
type CountingError struct {
	Counted int64 `json:"counted"` // positions counted
	Base    int64 `json:"base"`    // of those to count
}

func (e *CountingError) Error() string {
	return fmt.Sprintf("the hot log's size is still being counted (position %d of %d)", e.Counted, e.Base)
}

// sized reads hot's size, and the policies to judge it by: while the store
// still counts it (a CountingError), no byte budget is judged, the keep
// rules still are.
func sized(ctx context.Context, hot Hot, ps retention.Policies) (int64, retention.Policies, *CountingError, error) {
	bytes, err := hot.HotBytes(ctx)
	var counting *CountingError
	if errors.As(err, &counting) {
		ps.HotBytes = 0
		return 0, ps, counting, nil
	}
	return bytes, ps, nil, err
}
