-- The audit ledger (see package ledger).

-- The log's size. Appenders lock this single row for the rest of their
-- transaction and check it against their first index, so that of two
-- appends at the same size, in one process or in several replicas, only one
-- commits; the other finds the new size and is refused.
CREATE TABLE ledger_head (
	one  boolean PRIMARY KEY DEFAULT true CHECK (one),
	size bigint NOT NULL CHECK (size >= 0)
);

INSERT INTO ledger_head (size) VALUES (0);

-- Entries, numbered from 0 without gaps.
CREATE TABLE ledger_entries (
	idx   bigint PRIMARY KEY CHECK (idx >= 0),
	entry bytea NOT NULL
);

-- Stored Merkle tree hashes: leaf hashes (level 0) and perfect subtrees.
CREATE TABLE ledger_nodes (
	level smallint NOT NULL CHECK (level >= 0),
	idx   bigint NOT NULL CHECK (idx >= 0),
	hash  bytea NOT NULL,
	PRIMARY KEY (level, idx)
);

-- Signed checkpoints the node published, oldest first by seq.
CREATE TABLE ledger_checkpoints (
	seq    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	signed bytea NOT NULL
);
