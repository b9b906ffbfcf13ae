-- Receipts of batches (see mailbox.BatchReceipt): for each batch this node
-- sent or received, its own audit entry of it, recorded in the transaction
-- that appends the entry, and, once fetched and verified, the partner's
-- entry of the same batch with its inclusion proof against a checkpoint
-- the partner signed. Times in microseconds since 1970.
CREATE TABLE receipts (
	partner       TEXT    NOT NULL,
	role          TEXT    NOT NULL CHECK (role IN ('sender', 'recipient')),
	through       INTEGER NOT NULL,
	own_index     INTEGER NOT NULL,
	recorded      INTEGER NOT NULL,
	partner_index INTEGER,
	partner_entry BLOB,
	checkpoint    BLOB,
	proof         BLOB,    -- the audit path: 32-byte hashes, concatenated
	verified      INTEGER,
	failure       TEXT,
	PRIMARY KEY (partner, role, through)
) WITHOUT ROWID;

-- The receipts still to be fetched from partners.
CREATE INDEX receipts_pending ON receipts (partner, through) WHERE verified IS NULL AND failure IS NULL;
