-- The mailbox of a hub node (see federation.Hub and mailbox.HubStore):
-- batches sealed by a sender to one recipient, held until the recipient
-- has applied them, and messages (recall notices, acknowledgements,
-- answers) held until the recipient takes them. The hub holds ciphertext
-- only: envelopes and sealed messages, the ranges they cover and the
-- senders' signatures. Times in nanoseconds.
CREATE TABLE hub_batches (
	sender      text COLLATE "C" NOT NULL,
	recipient   text COLLATE "C" NOT NULL,
	seq_after   bigint NOT NULL CHECK (seq_after >= 0),
	seq_through bigint NOT NULL CHECK (seq_through > seq_after),
	head        bigint NOT NULL CHECK (head >= seq_through),
	withheld    integer NOT NULL CHECK (withheld >= 0),
	envelope    bytea  NOT NULL,
	range_seal  bytea  NOT NULL,
	stored      bigint NOT NULL,
	PRIMARY KEY (sender, recipient, seq_after)
);

-- Per stream: the last sequence number deposited and the last the
-- recipient acknowledged.
CREATE TABLE hub_streams (
	sender      text COLLATE "C" NOT NULL,
	recipient   text COLLATE "C" NOT NULL,
	seq_through bigint NOT NULL,
	acked       bigint NOT NULL CHECK (acked <= seq_through),
	PRIMARY KEY (sender, recipient)
);

-- Messages, oldest first by seq, each kept once by sender, recipient and
-- id.
CREATE TABLE hub_messages (
	seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	sender    text COLLATE "C" NOT NULL,
	recipient text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	kind      text COLLATE "C" NOT NULL,
	body      bytea  NOT NULL,
	seal      bytea  NOT NULL,
	stored    bigint NOT NULL,
	UNIQUE (recipient, sender, id)
);
