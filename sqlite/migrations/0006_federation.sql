-- Federation with partner nodes (see package federation and
-- federation/mailbox).

-- Each partner's outbox: the object versions (objects.date_added) to send,
-- numbered per partner from 1 without gaps. A version enters a partner's
-- outbox once, in the transaction that stores it or that makes its class
-- releasable to the partner; whether it is sent is checked again against
-- the release sets when it is sent. Entries the partner acknowledged are
-- removed.
CREATE TABLE outbox (
	partner    TEXT    NOT NULL,
	seq        INTEGER NOT NULL,
	date_added INTEGER NOT NULL,
	PRIMARY KEY (partner, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX outbox_object ON outbox (partner, date_added);

-- Per partner: the last sequence number handed out, the last the partner
-- acknowledged having applied, and when a batch was last served to it
-- (microseconds; 0 never).
CREATE TABLE outbox_heads (
	partner TEXT    PRIMARY KEY,
	last    INTEGER NOT NULL DEFAULT 0,
	acked   INTEGER NOT NULL DEFAULT 0,
	sent    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

-- Per sender: the last of its sequence numbers applied here, written in the
-- transaction that stores the batch, so that a batch is applied exactly
-- once; the sender's head when last heard; when a batch was last applied.
CREATE TABLE inbox (
	sender   TEXT    PRIMARY KEY,
	through  INTEGER NOT NULL,
	head     INTEGER NOT NULL,
	received INTEGER NOT NULL
) WITHOUT ROWID;

-- The signed envelope header and signature block of every batch received:
-- with an object's proof (provenance.proof) they verify it again later.
CREATE TABLE received_batches (
	sender    TEXT    NOT NULL,
	through   INTEGER NOT NULL,
	header    BLOB    NOT NULL,
	signature BLOB    NOT NULL,
	received  INTEGER NOT NULL,
	PRIMARY KEY (sender, through)
) WITHOUT ROWID;

-- Where each received object version came from: the partner that sent it,
-- the originators as received (comma-separated), the batch and the
-- version's inclusion proof in it.
CREATE TABLE provenance (
	object_id   TEXT    NOT NULL,
	hash        BLOB    NOT NULL,
	sender      TEXT    NOT NULL,
	originators TEXT    NOT NULL,
	through     INTEGER NOT NULL,
	proof       BLOB    NOT NULL,
	PRIMARY KEY (object_id, hash, sender)
) WITHOUT ROWID;

-- The last error of each side ('send' or 'receive') of a link, for
-- operators; removed when the side works again.
CREATE TABLE federation_errors (
	partner   TEXT    NOT NULL,
	direction TEXT    NOT NULL,
	message   TEXT    NOT NULL,
	at        INTEGER NOT NULL,
	PRIMARY KEY (partner, direction)
) WITHOUT ROWID;
