-- Stored Merkle tree hashes keyed in the order appends complete them:
-- key = (index of the last leaf under the node) * 64 + level. Every append
-- then adds rows at the end of the b-tree, as it does entries, rather than
-- in the middle of each level's range, which dirtied and split pages
-- across the tree.
CREATE TABLE ledger_tree (
	key  INTEGER PRIMARY KEY,
	hash BLOB    NOT NULL
);
INSERT INTO ledger_tree (key, hash) SELECT ((((idx + 1) << level) - 1) << 6) | level, hash FROM ledger_nodes;
DROP TABLE ledger_nodes;
