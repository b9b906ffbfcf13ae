-- The label given to objects written to a collection without markings of
-- their own (TAXII POST, import), as a banner.
CREATE TABLE collection_banners (
	collection text COLLATE "C" PRIMARY KEY, -- the collection's id
	banner     text NOT NULL
);
