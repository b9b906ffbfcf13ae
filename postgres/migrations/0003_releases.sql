-- Release classes and the release decisions materialised for them (see
-- package release). Object versions that every release decision treats
-- alike share a class; decisions are kept per class and partner, so that an
-- agreement change re-decides classes, not objects.
CREATE TABLE release_classes (
	id      bigserial PRIMARY KEY,
	key     bytea  NOT NULL UNIQUE CHECK (length(key) = 32), -- SHA-256 of subject
	subject bytea  NOT NULL,
	decided bigint NOT NULL DEFAULT 0 -- microseconds; 0 when never decided
);

-- The class of each object version; 0 when it is not classified, and then
-- nothing is released from it.
ALTER TABLE objects ADD COLUMN class bigint NOT NULL DEFAULT 0;
CREATE INDEX objects_class ON objects (class);

-- One row per class and partner the node releases to. A missing row is a
-- denial.
CREATE TABLE releases (
	class        bigint  NOT NULL,
	partner      text COLLATE "C" NOT NULL,
	outcome      smallint NOT NULL,
	agreement    text NOT NULL DEFAULT '',
	variant      text NOT NULL DEFAULT '',
	consent_from text NOT NULL DEFAULT '',
	reasons      text NOT NULL DEFAULT '',
	PRIMARY KEY (class, partner)
);
CREATE INDEX releases_partner ON releases (partner, outcome, class);
