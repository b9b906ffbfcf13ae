-- Consent requests (the third-party rule; see package federation): a
-- holder's requests to an originator for consent to pass an object on
-- (box 'outbox', on the holder's node), and the requests an originator was
-- sent (box 'inbox'), with the originator's signed answer. Times are in
-- nanoseconds; 0 means none (version 0: every version).
CREATE TABLE consent_requests (
	box            TEXT    NOT NULL CHECK (box IN ('inbox', 'outbox')),
	id             TEXT    NOT NULL,
	requester      TEXT    NOT NULL,
	originator     TEXT    NOT NULL,
	recipient      TEXT    NOT NULL,
	object_id      TEXT    NOT NULL,
	version        INTEGER NOT NULL,
	note           TEXT    NOT NULL,
	created        INTEGER NOT NULL,
	state          TEXT    NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
	decided        INTEGER NOT NULL DEFAULT 0,
	reason         TEXT    NOT NULL DEFAULT '',
	record         BLOB,
	delivered      INTEGER NOT NULL DEFAULT 0,
	delivery_error TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (box, id)
) WITHOUT ROWID;
CREATE INDEX consent_requests_created ON consent_requests (box, created, id);
