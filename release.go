package tearline

import (
	"context"
	"time"
)

// ReleaseClass is a set of stored object versions that every release
// decision treats alike (see Object.ReleaseClass): the node decides once per
// class and recipient, not once per object.
type ReleaseClass struct {
	ID int64
	// Subject is the class's decision inputs in canonical form, as
	// Object.ReleaseClass carried them.
	Subject []byte
	// Objects counts the object versions in the class.
	Objects int64
	// Decided is when the class's releases were last decided; zero when
	// never.
	Decided time.Time
}

// ClassRelease is the materialised release decision for one class and one
// partner: what every object version of the class may be, for that partner,
// at the time it was decided.
type ClassRelease struct {
	Class   int64
	Partner string
	Outcome Outcome
	// Agreement is the deciding agreement ("id@version"), when one applies.
	Agreement string
	// Variant is the tearline released instead (AllowVariant).
	Variant     string
	ConsentFrom []string
	// Reasons are the decision's reason codes, in order; the words are
	// written when a decision is explained for one object.
	Reasons []string
}

// ReleaseChange is a set of release decisions applied together.
type ReleaseChange struct {
	// Set replaces the releases of these (class, partner) pairs.
	Set []ClassRelease
	// Remove deletes the releases of these (class, partner) pairs: the
	// partner is no longer one the node releases to.
	Remove []ClassRelease
	// Decided lists the classes decided, with Time as their decision time.
	Decided []int64
	Time    time.Time
	// Actor and Cause are recorded in the audit log: who changed what
	// ("agreement fvey-intel@4 added", "recompute").
	Actor, Cause string
	// Summary holds the counts recorded in the audit log with the change
	// (for example "FRA: +1204 -17").
	Summary map[string]string
}

// ReleaseStore keeps the release classes and the decisions made for them.
//
// Implementations MUST apply a ReleaseChange in one transaction together
// with its audit log entry, and MUST treat a (class, partner) pair with no
// ClassRelease as a denial.
type ReleaseStore interface {
	// ReleaseClasses lists the classes that hold at least one object
	// version, with their counts; undecided limits the list to the classes
	// never decided.
	ReleaseClasses(ctx context.Context, undecided bool) ([]ReleaseClass, error)
	// Releases lists every materialised decision.
	Releases(ctx context.Context) ([]ClassRelease, error)
	// ApplyReleases applies a change atomically.
	ApplyReleases(ctx context.Context, ch ReleaseChange) error
	// ReleaseSubjects returns the subjects of the classes ids (as
	// ReleaseClass.Subject), by id; an id the store does not hold is
	// absent. Classes never change once made, so callers may keep them.
	ReleaseSubjects(ctx context.Context, ids []int64) (map[int64][]byte, error)
	// ReleaseOf returns an object version's class id (0 when it is not
	// classified) and the releases of that class.
	ReleaseOf(ctx context.Context, collection, id string, version time.Time) (int64, []ClassRelease, error)
}
