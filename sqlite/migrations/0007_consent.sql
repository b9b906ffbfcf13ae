-- Consents to pass objects on (the third-party rule; see package
-- federation): the signed records this node was given by originators, kept
-- as issued, with what finds them. version and expires are in
-- nanoseconds; 0 means every version, and never lapses.
CREATE TABLE consents (
	request    TEXT    PRIMARY KEY,
	originator TEXT    NOT NULL,
	holder     TEXT    NOT NULL,
	recipient  TEXT    NOT NULL,
	object_id  TEXT    NOT NULL,
	version    INTEGER NOT NULL,
	expires    INTEGER NOT NULL,
	record     BLOB    NOT NULL
) WITHOUT ROWID;
CREATE INDEX consents_object ON consents (object_id, recipient);
