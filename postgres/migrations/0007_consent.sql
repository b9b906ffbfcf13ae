-- Consents to pass objects on (the third-party rule; see package
-- federation): the signed records this node was given by originators, kept
-- as issued, with what finds them. version is in nanoseconds, expires in
-- nanoseconds; 0 means every version, and never lapses.
CREATE TABLE consents (
	request    text COLLATE "C" PRIMARY KEY,
	originator text COLLATE "C" NOT NULL,
	holder     text COLLATE "C" NOT NULL,
	recipient  text COLLATE "C" NOT NULL,
	object_id  text COLLATE "C" NOT NULL,
	version    bigint NOT NULL,
	expires    bigint NOT NULL,
	record     bytea  NOT NULL
);
CREATE INDEX consents_object ON consents (object_id, recipient);
