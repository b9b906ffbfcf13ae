-- Receipts of batches (see mailbox.BatchReceipt): for each batch this node
-- sent or received, its own audit entry of it, recorded in the transaction
-- that appends the entry, and, once fetched and verified, the partner's
-- entry of the same batch with its inclusion proof against a checkpoint
-- the partner signed. Times in microseconds since 1970.
CREATE TABLE receipts (
	partner       text COLLATE "C" NOT NULL,
	role          text NOT NULL CHECK (role IN ('sender', 'recipient')),
	through       bigint NOT NULL,
	own_index     bigint NOT NULL,
	recorded      bigint NOT NULL,
	partner_index bigint,
	partner_entry bytea,
	checkpoint    bytea,
	proof         bytea,   -- the audit path: 32-byte hashes, concatenated
	verified      bigint,
	failure       text,
	PRIMARY KEY (partner, role, through)
);

-- The receipts still to be fetched from partners.
CREATE INDEX receipts_pending ON receipts (partner, through) WHERE verified IS NULL AND failure IS NULL;
