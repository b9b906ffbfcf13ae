-- The provenance chain a sender carried with a version it passed on (see
-- mailbox.Provenance.Chain): the hops by which the version reached the
-- sender, the source's first, each a batch header, signature and inclusion
-- proof, kept to pass the chain on with the version. NULL for a version
-- received from its source, and for rows stored before chains were kept.
ALTER TABLE provenance ADD COLUMN chain BLOB;
