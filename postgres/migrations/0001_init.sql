-- Text columns use the "C" collation: identifiers compare and sort bytewise,
-- as they do in Go and in the SQLite store, whatever locale the cluster was
-- initialised with.

-- Collections are addressed by id or alias. Objects refer to them through num,
-- a compact surrogate, so that every object row and index entry carries four
-- bytes instead of a 36-byte UUID.
CREATE TABLE collections (
	id          text COLLATE "C" PRIMARY KEY,
	num         integer GENERATED ALWAYS AS IDENTITY UNIQUE,
	alias       text COLLATE "C" NOT NULL UNIQUE,
	title       text NOT NULL,
	description text NOT NULL,
	created     timestamptz NOT NULL
);

-- One row per object version in a collection. version is the effective
-- version in nanoseconds since the Unix epoch: the object's own version, or
-- date_added * 1000 for unversioned objects. date_added is in microseconds,
-- handed out by the clock table below. content is the JSON exactly as received;
-- jsonb would reorder keys and drop duplicates.
--
-- collection has no foreign key: the per-row check it costs halves the speed
-- of a bulk import, and it guards nothing the store does not already ensure.
-- Writers resolve the collection in their own transaction and lock its row
-- FOR KEY SHARE, and collections are never deleted.
CREATE TABLE objects (
	collection   integer NOT NULL,
	id           text COLLATE "C" NOT NULL,
	version      bigint NOT NULL,
	versioned    boolean NOT NULL,
	type         text COLLATE "C" NOT NULL,
	spec_version text COLLATE "C" NOT NULL,
	hash         bytea NOT NULL CHECK (length(hash) = 32),
	content      bytea NOT NULL,
	date_added   bigint NOT NULL,
	PRIMARY KEY (collection, id, version)
);

-- Paging through a collection in date_added order. Unique because the clock
-- never hands out a value twice.
CREATE UNIQUE INDEX objects_date_added ON objects (collection, date_added);

-- Type filters, still in date_added order for paging.
CREATE INDEX objects_type ON objects (collection, type, date_added);

-- The node's DateAdded clock: the last microsecond handed out. Writers lock
-- this single row for the rest of their transaction, which serialises them so
-- that rows commit in date_added order.
CREATE TABLE clock (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	last bigint NOT NULL
);

INSERT INTO clock (last) VALUES (0);
