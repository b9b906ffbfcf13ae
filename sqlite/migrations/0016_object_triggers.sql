-- The store does per batch what two triggers did per inserted row: it
-- refuses recalled versions (objects_recalled) and adds the keys of the
-- rows it inserted to object_ids_fresh (objects_keyed), both within the
-- transaction that inserts them (see putObjects). A table with insert
-- triggers has each multi-row insert copied to a temporary table before
-- it is inserted, content included, and runs a trigger program per row:
-- together a sixth of a bulk import's time.
--
-- objects_unkeyed stays: deletes are few, and take many paths.
DROP TRIGGER objects_recalled;
DROP TRIGGER objects_keyed;
