-- The label given to objects written to a collection without markings of
-- their own (TAXII POST, import), as a banner.
CREATE TABLE collection_banners (
	collection TEXT PRIMARY KEY, -- the collection's id
	banner     TEXT NOT NULL
) WITHOUT ROWID;
