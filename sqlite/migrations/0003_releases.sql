-- Release classes and the release decisions materialised for them (see
-- package release). Object versions that every release decision treats
-- alike share a class; decisions are kept per class and partner, so that an
-- agreement change re-decides classes, not objects.
CREATE TABLE release_classes (
	id      INTEGER PRIMARY KEY,
	-- SHA-256 of subject.
	key     BLOB    NOT NULL UNIQUE,
	subject BLOB    NOT NULL,
	-- When the class's releases were last decided (microseconds); 0 never.
	decided INTEGER NOT NULL DEFAULT 0
);

-- The class of each object version; 0 when it is not classified, and then
-- nothing is released from it.
ALTER TABLE objects ADD COLUMN class INTEGER NOT NULL DEFAULT 0;
CREATE INDEX objects_class ON objects (class);

-- One row per class and partner the node releases to. A missing row is a
-- denial.
CREATE TABLE releases (
	class        INTEGER NOT NULL,
	partner      TEXT    NOT NULL,
	outcome      INTEGER NOT NULL,
	agreement    TEXT    NOT NULL DEFAULT '',
	variant      TEXT    NOT NULL DEFAULT '',
	consent_from TEXT    NOT NULL DEFAULT '', -- comma-separated codes
	reasons      TEXT    NOT NULL DEFAULT '', -- comma-separated reason codes
	PRIMARY KEY (class, partner)
) WITHOUT ROWID;
CREATE INDEX releases_partner ON releases (partner, outcome, class);
