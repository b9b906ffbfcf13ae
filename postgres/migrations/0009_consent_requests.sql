-- Consent requests (the third-party rule; see package federation): a
-- holder's requests to an originator for consent to pass an object on
-- (box 'outbox', on the holder's node), and the requests an originator was
-- sent (box 'inbox'), with the originator's signed answer. Times are in
-- nanoseconds; 0 means none (version 0: every version).
CREATE TABLE consent_requests (
	box            text COLLATE "C" NOT NULL CHECK (box IN ('inbox', 'outbox')),
	id             text COLLATE "C" NOT NULL,
	requester      text COLLATE "C" NOT NULL,
	originator     text COLLATE "C" NOT NULL,
	recipient      text COLLATE "C" NOT NULL,
	object_id      text COLLATE "C" NOT NULL,
	version        bigint NOT NULL,
	note           text   NOT NULL,
	created        bigint NOT NULL,
	state          text   NOT NULL CHECK (state IN ('pending', 'approved', 'denied')),
	decided        bigint NOT NULL DEFAULT 0,
	reason         text   NOT NULL DEFAULT '',
	record         bytea,
	delivered      bigint NOT NULL DEFAULT 0,
	delivery_error text   NOT NULL DEFAULT '',
	PRIMARY KEY (box, id)
);
CREATE INDEX consent_requests_created ON consent_requests (box, created, id);
