-- Written by `cuesource worker build`: the index of the events archived to R2.
CREATE TABLE IF NOT EXISTS archive_segments (
	first      INTEGER PRIMARY KEY,
	last       INTEGER NOT NULL,
	count      INTEGER NOT NULL,
	first_time TEXT    NOT NULL,
	last_time  TEXT    NOT NULL,
	bytes      INTEGER NOT NULL,
	sha256     TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	hot        INTEGER NOT NULL,
	created    TEXT    NOT NULL
) STRICT;
