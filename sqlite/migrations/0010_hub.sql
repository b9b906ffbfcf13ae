-- The mailbox of a hub node (see federation.Hub and mailbox.HubStore):
-- batches sealed by a sender to one recipient, held until the recipient
-- has applied them. The hub holds ciphertext only: the envelope, the range
-- it covers and the sender's signature over both. Times in nanoseconds.
CREATE TABLE hub_batches (
	sender     TEXT    NOT NULL,
	recipient  TEXT    NOT NULL,
	seq_after  INTEGER NOT NULL,
	seq_through INTEGER NOT NULL,
	head       INTEGER NOT NULL,
	withheld   INTEGER NOT NULL,
	envelope   BLOB    NOT NULL,
	range_seal BLOB    NOT NULL,
	stored     INTEGER NOT NULL,
	PRIMARY KEY (sender, recipient, seq_after)
) WITHOUT ROWID;

-- Per stream: the last sequence number deposited and the last the
-- recipient acknowledged.
CREATE TABLE hub_streams (
	sender    TEXT    NOT NULL,
	recipient TEXT    NOT NULL,
	seq_through INTEGER NOT NULL,
	acked     INTEGER NOT NULL,
	PRIMARY KEY (sender, recipient)
) WITHOUT ROWID;
