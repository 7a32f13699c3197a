-- Written by `cuesource worker build`: the global log of the context.
CREATE TABLE IF NOT EXISTS events (
	position       INTEGER PRIMARY KEY,
	id             TEXT    NOT NULL UNIQUE,
	aggregate      TEXT    NOT NULL,
	instance       TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	type           TEXT    NOT NULL,
	schema_version INTEGER NOT NULL,
	time           TEXT    NOT NULL,
	command_id     TEXT    NOT NULL,
	payload        TEXT,
	UNIQUE (aggregate, instance, version)
);

CREATE TABLE IF NOT EXISTS dead_letters (
	id        INTEGER PRIMARY KEY,
	event_id  TEXT    NOT NULL,
	effect    TEXT    NOT NULL,
	attempts  INTEGER NOT NULL,
	error     TEXT    NOT NULL,
	rejection TEXT,
	time      TEXT    NOT NULL,
	event     TEXT    NOT NULL
);

CREATE TABLE IF NOT EXISTS projections (
	name           TEXT    NOT NULL PRIMARY KEY,
	position       INTEGER NOT NULL DEFAULT 0,
	hash           TEXT    NOT NULL,
	state          TEXT    NOT NULL,
	error          TEXT,
	error_position INTEGER,
	updated        TEXT    NOT NULL
) STRICT;

