-- Collections as TAXII exposes them.
CREATE TABLE collections (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	alias       TEXT    NOT NULL UNIQUE,
	title       TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	created     INTEGER NOT NULL -- microseconds since the Unix epoch
);

-- Object versions. date_added (microseconds, unique across the node) is the
-- rowid: paging by date_added is a walk of the table's own b-tree, and the
-- indexes below end in it implicitly.
CREATE TABLE objects (
	date_added   INTEGER PRIMARY KEY,
	collection   INTEGER NOT NULL REFERENCES collections(seq),
	-- The first 8 bytes of SHA-256(object_id): a compact key for the id
	-- index (see idKey). object_id is always compared too.
	id_key       INTEGER NOT NULL,
	object_id    TEXT    NOT NULL,
	-- The effective version in nanoseconds: modified, else created, else
	-- date_added for observables, which carry no version of their own.
	version      INTEGER NOT NULL,
	versioned    INTEGER NOT NULL,
	type         TEXT    NOT NULL,
	spec_version TEXT    NOT NULL,
	hash         BLOB    NOT NULL,
	content      BLOB    NOT NULL
);
-- The uniqueness of (collection, object_id, version) is checked by the
-- writer inside its write transaction (SQLite admits one writer at a time).
CREATE INDEX objects_id ON objects (collection, id_key);
CREATE INDEX objects_collection ON objects (collection);
CREATE INDEX objects_type ON objects (collection, type);

-- The last date_added handed out, so that values never repeat even after the
-- newest object is deleted.
CREATE TABLE clock (last INTEGER NOT NULL);
INSERT INTO clock (last) VALUES (0);
