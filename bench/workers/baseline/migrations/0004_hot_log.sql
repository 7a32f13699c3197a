-- Written by `cuesource worker build`: the hot log's size, kept by triggers.
CREATE TABLE IF NOT EXISTS hot_log (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	bytes INTEGER NOT NULL
) STRICT;

CREATE TRIGGER IF NOT EXISTS hot_log_insert AFTER INSERT ON events BEGIN
	UPDATE hot_log SET bytes = bytes + (64 + length(CAST(NEW.id AS BLOB)) + length(CAST(NEW.aggregate AS BLOB)) + length(CAST(NEW.instance AS BLOB))
	+ length(CAST(NEW.type AS BLOB)) + length(CAST(NEW.command_id AS BLOB))
	+ ifnull(length(CAST(NEW.payload AS BLOB)), 0) + ifnull(length(CAST(NEW.meta AS BLOB)), 0));
END;

CREATE TRIGGER IF NOT EXISTS hot_log_delete AFTER DELETE ON events BEGIN
	UPDATE hot_log SET bytes = bytes - (64 + length(CAST(OLD.id AS BLOB)) + length(CAST(OLD.aggregate AS BLOB)) + length(CAST(OLD.instance AS BLOB))
	+ length(CAST(OLD.type AS BLOB)) + length(CAST(OLD.command_id AS BLOB))
	+ ifnull(length(CAST(OLD.payload AS BLOB)), 0) + ifnull(length(CAST(OLD.meta AS BLOB)), 0));
END;

CREATE TRIGGER IF NOT EXISTS hot_log_update AFTER UPDATE ON events BEGIN
	UPDATE hot_log SET bytes = bytes - (64 + length(CAST(OLD.id AS BLOB)) + length(CAST(OLD.aggregate AS BLOB)) + length(CAST(OLD.instance AS BLOB))
	+ length(CAST(OLD.type AS BLOB)) + length(CAST(OLD.command_id AS BLOB))
	+ ifnull(length(CAST(OLD.payload AS BLOB)), 0) + ifnull(length(CAST(OLD.meta AS BLOB)), 0)) + (64 + length(CAST(NEW.id AS BLOB)) + length(CAST(NEW.aggregate AS BLOB)) + length(CAST(NEW.instance AS BLOB))
	+ length(CAST(NEW.type AS BLOB)) + length(CAST(NEW.command_id AS BLOB))
	+ ifnull(length(CAST(NEW.payload AS BLOB)), 0) + ifnull(length(CAST(NEW.meta AS BLOB)), 0));
END;

INSERT INTO hot_log (id, bytes) SELECT 1, COALESCE(SUM((64 + length(CAST(id AS BLOB)) + length(CAST(aggregate AS BLOB)) + length(CAST(instance AS BLOB))
	+ length(CAST(type AS BLOB)) + length(CAST(command_id AS BLOB))
	+ ifnull(length(CAST(payload AS BLOB)), 0) + ifnull(length(CAST(meta AS BLOB)), 0))), 0) FROM events WHERE true
ON CONFLICT (id) DO NOTHING;
