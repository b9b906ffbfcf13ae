// Package tearline holds the domain of a Tearline node: the STIX object versions
// it stores, the collections they live in, and the service interfaces that the
// storage, interchange and presentation adapters share.
//
// This package imports only the standard library. It MUST NOT know how objects
// are parsed, stored or transported; adapter packages (stix, sqlite, postgres,
// cmd/tearline) depend on it, never the other way round.
package tearline

import (
	"context"
	"time"
)

// Object is one version of a STIX object as the node stores it.
//
// JSON holds the object exactly as it was received, compacted: every property,
// known or custom, with its original value. Hash is the SHA-256 of the object's
// RFC 8785 canonical form, so that the same object version hashes the same on
// every node whatever the key order or whitespace of the JSON it arrived in.
type Object struct {
	ID          string
	Type        string
	SpecVersion string
	// Version identifies this version among the object's versions: the
	// modified timestamp, or created when the object has no modified property.
	// It is the zero time for objects that carry neither (cyber-observables);
	// stores then use DateAdded as the version, as TAXII 2.1 prescribes.
	Version time.Time
	Hash    [32]byte
	JSON    []byte
	// ReleaseClass holds the inputs of a release decision that this version
	// shares with others, in canonical form (see package release): versions
	// with equal classes get the same decision for every recipient. Nil
	// when the version is not classified; nothing is released from it then.
	// Stores keep it on write and intern equal classes.
	ReleaseClass []byte
}

// Versioned reports whether the object carries its own version timestamp.
func (o *Object) Versioned() bool { return !o.Version.IsZero() }

// StoredObject is an object version as held in one collection.
type StoredObject struct {
	Object
	// DateAdded is when this node added the version to the collection. Each
	// node hands out DateAdded values that are unique and strictly increasing
	// in microseconds, so that it serves as a stable paging cursor.
	DateAdded time.Time
	// Class is the id of the version's release class in the store (see
	// ReleaseStore); 0 when the version is not classified.
	Class int64
	// Sole is set, when the query asked (ObjectQuery.MarkSole), on a
	// version that is the only one of its id in the collection: its first
	// and last version, whoever looks.
	Sole bool
}

// EffectiveVersion is the version timestamp TAXII reports for the object:
// its own version, or the date it was added when it has none.
func (o *StoredObject) EffectiveVersion() time.Time {
	if o.Versioned() {
		return o.Version
	}
	return o.DateAdded
}

// Collection is a named set of object versions, as exposed by TAXII 2.1.
type Collection struct {
	ID          string // a UUID, the TAXII collection id
	Alias       string // a short name unique on the node, used by the CLI
	Title       string
	Description string
	Created     time.Time
}

// PutStatus is the outcome of writing one object version.
type PutStatus int

const (
	// Added: the version was new and is now stored.
	Added PutStatus = iota + 1
	// Present: the identical version (same id, version and hash) was already
	// stored; nothing changed.
	Present
	// Conflict: a version with the same id and version but different content
	// is stored; the new one was refused.
	Conflict
	// Recalled: the originator recalled this version (the store keeps its
	// tombstone); it is not stored again.
	Recalled
)

func (s PutStatus) String() string {
	switch s {
	case Added:
		return "added"
	case Present:
		return "present"
	case Conflict:
		return "conflict"
	case Recalled:
		return "recalled"
	}
	return "unknown"
}

// PutResult reports what happened to one object of a batch.
type PutResult struct {
	Status    PutStatus
	DateAdded time.Time // set when Status is Added
}

// VersionFilter selects which versions of each object a query returns, as
// TAXII 2.1 match[version] does: the values are alternatives (OR). A filter
// with nothing set means Last for Objects and every version for
// DeleteObjects, the TAXII defaults.
type VersionFilter struct {
	First bool        // the oldest version of each object
	Last  bool        // the newest version of each object
	All   bool        // every version
	Exact []time.Time // versions with exactly these timestamps
}

// IsZero reports whether the filter selects nothing explicitly.
func (f VersionFilter) IsZero() bool {
	return !f.First && !f.Last && !f.All && len(f.Exact) == 0
}

// ObjectQuery is a TAXII 2.1 style filter over one collection's object
// versions. Within a field the values are alternatives (OR); fields combine
// with AND. Empty fields do not filter.
//
// Versions are compared by their effective version (see
// StoredObject.EffectiveVersion): first and last are the oldest and newest of
// each object's versions in the collection.
type ObjectQuery struct {
	Collection string // collection id or alias; required

	IDs          []string
	Types        []string
	SpecVersions []string
	Version      VersionFilter

	// AddedAfter keeps versions whose DateAdded is strictly later.
	AddedAfter time.Time
	// After is a paging cursor: the DateAdded of the last version of the
	// previous page. Versions are returned in DateAdded order.
	After time.Time
	// Limit caps the page size; 0 means no limit.
	Limit int
	// MarkSole asks the store to set StoredObject.Sole on the versions it
	// returns.
	MarkSole bool
}

// ObjectPage is one page of a query result.
type ObjectPage struct {
	Objects []StoredObject
	// More reports that further versions match after the last one returned.
	More bool
}

// ObjectStore is the persistent home of object versions and collections.
//
// Implementations MUST make PutObjects atomic: either every Added result is
// durable when it returns, or none is and an error is returned. Implementations
// MUST hand out DateAdded values that strictly increase across the whole node,
// including across restarts and concurrent writers.
type ObjectStore interface {
	CreateCollection(ctx context.Context, c Collection) (Collection, error)
	Collections(ctx context.Context) ([]Collection, error)
	Collection(ctx context.Context, idOrAlias string) (Collection, error)

	PutObjects(ctx context.Context, collection string, objs []*Object) ([]PutResult, error)
	Objects(ctx context.Context, q ObjectQuery) (ObjectPage, error)
	// DeleteObjects removes the versions of object id in the collection that
	// match q's version and spec_version fields (all versions when they are
	// empty) and reports how many it removed.
	DeleteObjects(ctx context.Context, q ObjectQuery) (int, error)
	// Count reports how many object versions the collection holds ("" for all).
	Count(ctx context.Context, collection string) (int64, error)

	SchemaVersion(ctx context.Context) (int, error)
	Close() error
}
