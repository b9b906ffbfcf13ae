-- Messages a hub holds for its members (see mailbox.HubMessages): recall
-- notices, acknowledgements and answers, sealed to the recipient and
-- signed by the sender, each kept until its recipient takes it. Times in
-- nanoseconds; seq orders a recipient's messages oldest first.
CREATE TABLE hub_messages (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	sender    TEXT    NOT NULL,
	recipient TEXT    NOT NULL,
	id        TEXT    NOT NULL,
	kind      TEXT    NOT NULL,
	body      BLOB    NOT NULL,
	seal      BLOB    NOT NULL,
	stored    INTEGER NOT NULL,
	UNIQUE (recipient, sender, id)
);
