-- Local users, their API tokens, and what users and partners may do with
-- each collection (TAXII can_read / can_write).
CREATE TABLE users (
	name         text COLLATE "C" PRIMARY KEY,
	nationality  text NOT NULL,
	organisation text NOT NULL DEFAULT '',
	clearances   text NOT NULL DEFAULT '[]', -- JSON list of clearances
	communities  text NOT NULL DEFAULT '',
	roles        text NOT NULL DEFAULT '',
	disabled     boolean NOT NULL DEFAULT false,
	created      bigint NOT NULL
);

-- Only the SHA-256 of a token's secret is kept.
CREATE TABLE tokens (
	id      text COLLATE "C" PRIMARY KEY,
	"user"  text COLLATE "C" NOT NULL REFERENCES users(name),
	hash    bytea NOT NULL CHECK (length(hash) = 32),
	created bigint NOT NULL,
	expires bigint NOT NULL
);
CREATE INDEX tokens_user ON tokens ("user");

CREATE TABLE grants (
	principal  text COLLATE "C" NOT NULL,
	collection text COLLATE "C" NOT NULL,
	can_read   boolean NOT NULL,
	can_write  boolean NOT NULL,
	PRIMARY KEY (principal, collection)
);

-- TAXII status resources, kept until they expire, so that they survive
-- restarts and are shared by replicas.
CREATE TABLE taxii_statuses (
	id      text COLLATE "C" PRIMARY KEY,
	body    bytea NOT NULL,
	expires bigint NOT NULL
);
CREATE INDEX taxii_statuses_expires ON taxii_statuses (expires);
