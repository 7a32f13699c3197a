-- Written by `cuesource worker build`: the hot log's size, kept by triggers.
CREATE TABLE IF NOT EXISTS hot_log (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	bytes   INTEGER NOT NULL,
	counted INTEGER NOT NULL,
	base    INTEGER NOT NULL
) STRICT;

CREATE TRIGGER IF NOT EXISTS hot_log_insert AFTER INSERT ON events WHEN (NEW.position > (SELECT base FROM hot_log) OR NEW.position <= (SELECT counted FROM hot_log)) BEGIN
	UPDATE hot_log SET bytes = bytes + (64 + length(CAST(NEW.id AS BLOB)) + length(CAST(NEW.aggregate AS BLOB)) + length(CAST(NEW.instance AS BLOB))
	+ length(CAST(NEW.type AS BLOB)) + length(CAST(NEW.command_id AS BLOB))
	+ ifnull(length(CAST(NEW.payload AS BLOB)), 0) + ifnull(length(CAST(NEW.meta AS BLOB)), 0));
END;

CREATE TRIGGER IF NOT EXISTS hot_log_delete AFTER DELETE ON events WHEN (OLD.position > (SELECT base FROM hot_log) OR OLD.position <= (SELECT counted FROM hot_log)) BEGIN
	UPDATE hot_log SET bytes = bytes - (64 + length(CAST(OLD.id AS BLOB)) + length(CAST(OLD.aggregate AS BLOB)) + length(CAST(OLD.instance AS BLOB))
	+ length(CAST(OLD.type AS BLOB)) + length(CAST(OLD.command_id AS BLOB))
	+ ifnull(length(CAST(OLD.payload AS BLOB)), 0) + ifnull(length(CAST(OLD.meta AS BLOB)), 0));
END;

CREATE TRIGGER IF NOT EXISTS hot_log_update AFTER UPDATE ON events BEGIN
	UPDATE hot_log SET bytes = bytes
		- (CASE WHEN (OLD.position > (SELECT base FROM hot_log) OR OLD.position <= (SELECT counted FROM hot_log)) THEN (64 + length(CAST(OLD.id AS BLOB)) + length(CAST(OLD.aggregate AS BLOB)) + length(CAST(OLD.instance AS BLOB))
	+ length(CAST(OLD.type AS BLOB)) + length(CAST(OLD.command_id AS BLOB))
	+ ifnull(length(CAST(OLD.payload AS BLOB)), 0) + ifnull(length(CAST(OLD.meta AS BLOB)), 0)) ELSE 0 END)
		+ (CASE WHEN (NEW.position > (SELECT base FROM hot_log) OR NEW.position <= (SELECT counted FROM hot_log)) THEN (64 + length(CAST(NEW.id AS BLOB)) + length(CAST(NEW.aggregate AS BLOB)) + length(CAST(NEW.instance AS BLOB))
	+ length(CAST(NEW.type AS BLOB)) + length(CAST(NEW.command_id AS BLOB))
	+ ifnull(length(CAST(NEW.payload AS BLOB)), 0) + ifnull(length(CAST(NEW.meta AS BLOB)), 0)) ELSE 0 END);
END;

INSERT INTO hot_log (id, bytes, counted, base) SELECT 1, 0, 0, COALESCE(MAX(position), 0) FROM events WHERE true
ON CONFLICT (id) DO NOTHING;
