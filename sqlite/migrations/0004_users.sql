-- Local users, their API tokens, and what users and partners may do with
-- each collection (TAXII can_read / can_write).
CREATE TABLE users (
	name         TEXT PRIMARY KEY,
	nationality  TEXT    NOT NULL,
	organisation TEXT    NOT NULL DEFAULT '',
	clearances   TEXT    NOT NULL DEFAULT '[]', -- JSON list of clearances
	communities  TEXT    NOT NULL DEFAULT '',   -- comma-separated codes
	roles        TEXT    NOT NULL DEFAULT '',   -- comma-separated roles
	disabled     INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL               -- microseconds
) WITHOUT ROWID;

-- Only the SHA-256 of a token's secret is kept.
CREATE TABLE tokens (
	id      TEXT PRIMARY KEY,
	user    TEXT    NOT NULL REFERENCES users(name),
	hash    BLOB    NOT NULL,
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tokens_user ON tokens (user);

CREATE TABLE grants (
	principal  TEXT    NOT NULL,
	collection TEXT    NOT NULL,
	can_read   INTEGER NOT NULL,
	can_write  INTEGER NOT NULL,
	PRIMARY KEY (principal, collection)
) WITHOUT ROWID;

-- TAXII status resources, kept until they expire, so that they survive
-- restarts and are shared by replicas.
CREATE TABLE taxii_statuses (
	id      TEXT PRIMARY KEY,
	body    BLOB    NOT NULL,
	expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX taxii_statuses_expires ON taxii_statuses (expires);
