-- Federation with partner nodes (see package federation and
-- federation/mailbox).

-- Each partner's outbox: the object versions (objects.collection and
-- date_added) to send, numbered per partner from 1 without gaps. A version
-- enters a partner's outbox once, in the transaction that stores it or that
-- makes its class releasable to the partner; whether it is sent is checked
-- again against the release sets when it is sent. Writers of the outbox
-- take the advisory lock outboxLock (see outbox.go) first. Entries the
-- partner acknowledged are removed.
CREATE TABLE outbox (
	partner    text COLLATE "C" NOT NULL,
	seq        bigint  NOT NULL CHECK (seq > 0),
	collection integer NOT NULL,
	date_added bigint  NOT NULL,
	PRIMARY KEY (partner, seq)
);
CREATE UNIQUE INDEX outbox_object ON outbox (partner, date_added);

-- Per partner: the last sequence number handed out, the last the partner
-- acknowledged having applied, and when a batch was last served to it
-- (microseconds; 0 never).
CREATE TABLE outbox_heads (
	partner text COLLATE "C" PRIMARY KEY,
	last    bigint NOT NULL DEFAULT 0,
	acked   bigint NOT NULL DEFAULT 0 CHECK (acked <= last),
	sent    bigint NOT NULL DEFAULT 0
);

-- Per sender: the last of its sequence numbers applied here, written in the
-- transaction that stores the batch, so that a batch is applied exactly
-- once; the sender's head when last heard; when a batch was last applied.
CREATE TABLE inbox (
	sender   text COLLATE "C" PRIMARY KEY,
	through  bigint NOT NULL,
	head     bigint NOT NULL,
	received bigint NOT NULL
);

-- The signed envelope header and signature block of every batch received:
-- with an object's proof (provenance.proof) they verify it again later.
CREATE TABLE received_batches (
	sender    text COLLATE "C" NOT NULL,
	through   bigint NOT NULL,
	header    bytea  NOT NULL,
	signature bytea  NOT NULL,
	received  bigint NOT NULL,
	PRIMARY KEY (sender, through)
);

-- Where each received object version came from: the partner that sent it,
-- the originators as received (comma-separated), the batch and the
-- version's inclusion proof in it.
CREATE TABLE provenance (
	object_id   text COLLATE "C" NOT NULL,
	hash        bytea  NOT NULL CHECK (length(hash) = 32),
	sender      text COLLATE "C" NOT NULL,
	originators text   NOT NULL,
	through     bigint NOT NULL,
	proof       bytea  NOT NULL,
	PRIMARY KEY (object_id, hash, sender)
);

-- The last error of each side ('send' or 'receive') of a link, for
-- operators; removed when the side works again.
CREATE TABLE federation_errors (
	partner   text COLLATE "C" NOT NULL,
	direction text   NOT NULL,
	message   text   NOT NULL,
	at        bigint NOT NULL,
	PRIMARY KEY (partner, direction)
);
