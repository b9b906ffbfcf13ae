-- Recall (see package federation, recall.go).

-- Every object version a partner acknowledged having applied from its
-- outbox: filled as acknowledged entries leave the outbox, so that a recall
-- reaches every partner the version was sent to.
CREATE TABLE outbox_delivered (
	partner   text COLLATE "C" NOT NULL,
	object_id text COLLATE "C" NOT NULL,
	hash      bytea NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (object_id, hash, partner)
);
CREATE FUNCTION outbox_delivered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO outbox_delivered (partner, object_id, hash)
		SELECT OLD.partner, o.id, o.hash FROM objects o WHERE o.collection = OLD.collection AND o.date_added = OLD.date_added
		ON CONFLICT DO NOTHING;
	RETURN OLD;
END $$;
CREATE TRIGGER outbox_delivered AFTER DELETE ON outbox FOR EACH ROW EXECUTE FUNCTION outbox_delivered();

-- Recall notices this node issued or applied, kept as signed. Times in
-- nanoseconds; version 0 when the object has none.
CREATE TABLE recalls (
	notice     text COLLATE "C" PRIMARY KEY,
	originator text COLLATE "C" NOT NULL,
	object_id  text COLLATE "C" NOT NULL,
	version    bigint NOT NULL,
	hash       bytea  NOT NULL CHECK (length(hash) = 32),
	reason     text   NOT NULL,
	issued     bigint NOT NULL,
	record     bytea  NOT NULL
);
CREATE INDEX recalls_object ON recalls (object_id);

-- The originator's view of its recalls: each partner the notice went to or
-- that acknowledged it, when it was delivered and acknowledged (0 not yet),
-- and the signed acknowledgement.
CREATE TABLE recall_targets (
	notice       text COLLATE "C" NOT NULL,
	partner      text COLLATE "C" NOT NULL,
	delivered    bigint  NOT NULL DEFAULT 0,
	error        text    NOT NULL DEFAULT '',
	acknowledged bigint  NOT NULL DEFAULT 0,
	purged       integer NOT NULL DEFAULT 0,
	record       bytea,
	PRIMARY KEY (notice, partner)
);

-- Notices and acknowledgements to deliver, tried until delivered
-- (delivered <> 0) or refused for good (final).
CREATE TABLE recall_messages (
	id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	partner   text COLLATE "C" NOT NULL,
	kind      text    NOT NULL,
	notice    text COLLATE "C" NOT NULL,
	body      bytea   NOT NULL,
	queued    bigint  NOT NULL,
	delivered bigint  NOT NULL DEFAULT 0,
	final     boolean NOT NULL DEFAULT false,
	attempts  integer NOT NULL DEFAULT 0,
	error     text    NOT NULL DEFAULT ''
);
CREATE INDEX recall_messages_pending ON recall_messages (id) WHERE delivered = 0 AND NOT final;

-- What is kept of a purged version.
CREATE TABLE tombstones (
	object_id   text COLLATE "C" NOT NULL,
	hash        bytea  NOT NULL CHECK (length(hash) = 32),
	version     bigint NOT NULL,
	recalled_by text COLLATE "C" NOT NULL,
	reason      text   NOT NULL,
	notice      text COLLATE "C" NOT NULL,
	recalled    bigint NOT NULL,
	purged      bigint NOT NULL,
	PRIMARY KEY (object_id, hash)
);

-- A recalled version never comes back: a copy still on its way from a
-- partner that has not purged it yet is not stored.
CREATE FUNCTION objects_recalled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM tombstones t WHERE t.object_id = NEW.id AND t.hash = NEW.hash) THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER objects_recalled BEFORE INSERT ON objects FOR EACH ROW EXECUTE FUNCTION objects_recalled();
