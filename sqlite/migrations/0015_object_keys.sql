-- The id index moves out of the objects table into two tables of keys, so
-- that a write does not cost a random page of a large index per object.
--
-- An index on (collection, id_key) over random ids takes each new object
-- to a page of its own once the index outgrows a batch: a 1,000-object
-- write dirtied about 900 pages of it at 1,000,000 objects, each written to
-- the WAL and again at the checkpoint. Instead, a new version's key goes to
-- object_ids_fresh, small enough that a batch dirties few pages of it, and
-- the store moves the fresh keys into object_ids in one sorted pass when
-- they are many (see mergeFreshKeys): a page of object_ids is then written
-- once for the many keys that land on it.
--
-- A key is in exactly one of the two tables; object_keys is both. The
-- triggers keep them equal to the objects table whatever the statement.
CREATE TABLE object_ids (
	collection INTEGER NOT NULL,
	id_key     INTEGER NOT NULL,
	date_added INTEGER NOT NULL,
	PRIMARY KEY (collection, id_key, date_added)
) WITHOUT ROWID;

CREATE TABLE object_ids_fresh (
	collection INTEGER NOT NULL,
	id_key     INTEGER NOT NULL,
	date_added INTEGER NOT NULL,
	PRIMARY KEY (collection, id_key, date_added)
) WITHOUT ROWID;

INSERT INTO object_ids (collection, id_key, date_added)
	SELECT collection, id_key, date_added FROM objects ORDER BY collection, id_key, date_added;
DROP INDEX objects_id;

CREATE VIEW object_keys AS
	SELECT collection, id_key, date_added FROM object_ids
	UNION ALL
	SELECT collection, id_key, date_added FROM object_ids_fresh;

CREATE TRIGGER objects_keyed AFTER INSERT ON objects BEGIN
	INSERT INTO object_ids_fresh (collection, id_key, date_added) VALUES (NEW.collection, NEW.id_key, NEW.date_added);
END;

CREATE TRIGGER objects_unkeyed AFTER DELETE ON objects BEGIN
	DELETE FROM object_ids WHERE collection = OLD.collection AND id_key = OLD.id_key AND date_added = OLD.date_added;
	DELETE FROM object_ids_fresh WHERE collection = OLD.collection AND id_key = OLD.id_key AND date_added = OLD.date_added;
END;
