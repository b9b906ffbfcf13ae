-- Recall (see package federation, recall.go).

-- Every object version a partner acknowledged having applied from its
-- outbox: filled as acknowledged entries leave the outbox, so that a recall
-- reaches every partner the version was sent to.
CREATE TABLE outbox_delivered (
	partner   TEXT NOT NULL,
	object_id TEXT NOT NULL,
	hash      BLOB NOT NULL,
	PRIMARY KEY (object_id, hash, partner)
) WITHOUT ROWID;
CREATE TRIGGER outbox_delivered AFTER DELETE ON outbox BEGIN
	INSERT OR IGNORE INTO outbox_delivered (partner, object_id, hash)
		SELECT OLD.partner, o.object_id, o.hash FROM objects o WHERE o.date_added = OLD.date_added;
END;

-- Recall notices this node issued or applied, kept as signed. Times in
-- nanoseconds; version 0 when the object has none.
CREATE TABLE recalls (
	notice     TEXT    PRIMARY KEY,
	originator TEXT    NOT NULL,
	object_id  TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	hash       BLOB    NOT NULL,
	reason     TEXT    NOT NULL,
	issued     INTEGER NOT NULL,
	record     BLOB    NOT NULL
) WITHOUT ROWID;
CREATE INDEX recalls_object ON recalls (object_id);

-- The originator's view of its recalls: each partner the notice went to or
-- that acknowledged it, when it was delivered and acknowledged (0 not yet),
-- and the signed acknowledgement.
CREATE TABLE recall_targets (
	notice       TEXT    NOT NULL,
	partner      TEXT    NOT NULL,
	delivered    INTEGER NOT NULL DEFAULT 0,
	error        TEXT    NOT NULL DEFAULT '',
	acknowledged INTEGER NOT NULL DEFAULT 0,
	purged       INTEGER NOT NULL DEFAULT 0,
	record       BLOB,
	PRIMARY KEY (notice, partner)
) WITHOUT ROWID;

-- Notices and acknowledgements to deliver, tried until delivered
-- (delivered <> 0) or refused for good (final = 1).
CREATE TABLE recall_messages (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	partner   TEXT    NOT NULL,
	kind      TEXT    NOT NULL,
	notice    TEXT    NOT NULL,
	body      BLOB    NOT NULL,
	queued    INTEGER NOT NULL,
	delivered INTEGER NOT NULL DEFAULT 0,
	final     INTEGER NOT NULL DEFAULT 0,
	attempts  INTEGER NOT NULL DEFAULT 0,
	error     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX recall_messages_pending ON recall_messages (id) WHERE delivered = 0 AND final = 0;

-- What is kept of a purged version.
CREATE TABLE tombstones (
	object_id   TEXT    NOT NULL,
	hash        BLOB    NOT NULL,
	version     INTEGER NOT NULL,
	recalled_by TEXT    NOT NULL,
	reason      TEXT    NOT NULL,
	notice      TEXT    NOT NULL,
	recalled    INTEGER NOT NULL,
	purged      INTEGER NOT NULL,
	PRIMARY KEY (object_id, hash)
) WITHOUT ROWID;

-- A recalled version never comes back: a copy still on its way from a
-- partner that has not purged it yet is not stored.
CREATE TRIGGER objects_recalled BEFORE INSERT ON objects
	WHEN EXISTS (SELECT 1 FROM tombstones t WHERE t.object_id = NEW.object_id AND t.hash = NEW.hash)
BEGIN
	SELECT RAISE(IGNORE);
END;
