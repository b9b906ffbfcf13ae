-- The audit ledger (see package ledger). Entries are numbered from 0 without
-- gaps, so the log's size is max(idx) + 1, read from the end of the b-tree.
CREATE TABLE ledger_entries (
	idx   INTEGER PRIMARY KEY,
	entry BLOB    NOT NULL
);

-- Stored Merkle tree hashes: leaf hashes (level 0) and perfect subtrees.
CREATE TABLE ledger_nodes (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB    NOT NULL,
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;

-- Signed checkpoints the node published, oldest first by seq.
CREATE TABLE ledger_checkpoints (
	seq    INTEGER PRIMARY KEY AUTOINCREMENT,
	signed BLOB    NOT NULL
);
