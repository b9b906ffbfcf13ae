// Package release materialises release decisions: for every stored object
// version, what each partner may receive, with the deciding agreement and
// the reasons, kept in the store and recomputed when objects, agreements,
// communities or partners change.
//
// Deciding a million objects for every partner after each agreement change
// would repeat the same decision over and over: most objects share a label,
// a type and topics. So object versions are grouped into release classes,
// each holding exactly the inputs a decision reads (see Classify), and the
// node decides once per class and partner. An agreement change re-decides
// the classes, and its impact is the sum of the objects in the classes whose
// decision changes.
//
// The package owns the class encoding and the recompute; the stores own the
// tables (tearline.ReleaseStore) and the policy package owns the decision.
// It MUST NOT release anything itself: it records decisions, and what reads
// them (views, federation, export) acts on them.
package release

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/stix"
)

// classVersion is the version of the class encoding: a change of what goes
// into a class changes it, and classes of another version are decided as
// unreadable (denied) until the objects are classified again.
const classVersion = 1

// class is the JSON form of a release class: the decision inputs of an
// object version that are not the recipient or the time of the decision.
type class struct {
	V      int      `json:"v"`
	Holder string   `json:"holder"`
	Type   string   `json:"type"`
	Topics []string `json:"topics,omitempty"`
	// Created is the object's creation time reduced to the start of its
	// membership epoch (see Epochs), or exact when a rule reads it exactly.
	Created  time.Time      `json:"created"`
	Label    tearline.Label `json:"label"`
	Verified bool           `json:"verified"`
	// Originators from the provenance chain.
	Originators []string `json:"originators,omitempty"`
	// ID is set only for objects with inputs of their own (consents,
	// tearline variants, a recall): they form a class of one.
	ID        string           `json:"id,omitempty"`
	Recalled  bool             `json:"recalled,omitempty"`
	Variants  []policy.Variant `json:"variants,omitempty"`
	Consents  []policy.Consent `json:"consents,omitempty"`
	HolderOrg string           `json:"holder_org,omitempty"`
}

// Classify returns the release class of an object version as the decision
// engine sees it (s), in canonical form: two versions with equal classes
// get the same outcome, agreement and reason codes from every decision,
// whatever the recipient and time. The class keeps:
//   - the holder, type, sorted topics, label, verification and provenance
//     originators, which the rules read;
//   - the creation time reduced to the start of its membership epoch,
//     since community membership at creation is the only use of it, except
//     for personal data, whose retention period counts from the exact
//     creation time;
//   - the object's id, recall, variants and consents only when it has
//     variants, consents or a recall: those are per object, so such an
//     object is a class of its own.
func Classify(s *policy.Subject, epochs Epochs) ([]byte, error) {
	return classify(s, epochs, nil)
}

// recentClasses are the classes encoded last, kept so that the next
// objects of a batch, which usually share a few classes (one per object
// type and originator, say), are not encoded again.
type recentClasses struct {
	mu      sync.Mutex
	entries [recentClassCount]recentClass
	next    int // the entry replaced by the next class encoded
}

type recentClass struct {
	c    class
	data []byte
}

// recentClassCount is how many classes are kept: more than the object
// types of a usual batch; each lookup compares against every entry.
const recentClassCount = 16

// classify is Classify, reusing a recent encoding when the class is
// identical to one of the recent ones (see identical).
func classify(s *policy.Subject, epochs Epochs, recent *recentClasses) ([]byte, error) {
	c := class{V: classVersion, Holder: s.Holder, Type: s.Type, Label: s.Label, Verified: s.Verified,
		Originators: s.Originators, HolderOrg: s.HolderOrganisation}
	if len(s.Topics) > 0 {
		c.Topics = slices.Clone(s.Topics)
		slices.Sort(c.Topics)
		c.Topics = slices.Compact(c.Topics)
	}
	c.Created = epochs.Start(s.Created)
	if s.Label.PersonalData || anyPersonal(s.Variants) {
		c.Created = s.Created
	}
	if s.Recalled || len(s.Variants) > 0 || len(s.Consents) > 0 {
		c.ID, c.Recalled, c.Variants, c.Consents = s.ID, s.Recalled, s.Variants, s.Consents
	}
	c.Created = c.Created.UTC()
	if recent != nil && c.ID == "" {
		if data := recent.find(&c); data != nil {
			return data, nil
		}
	}
	data, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("release class of %s: %w", s.ID, err)
	}
	if recent != nil && c.ID == "" {
		// The subject's slices are the caller's: the class kept must
		// not change with them. (A class of one object is not kept.)
		kept := c
		kept.Label = c.Label.Clone()
		kept.Originators = slices.Clone(c.Originators)
		recent.add(kept, data)
	}
	return data, nil
}

// identical reports whether c and d hold the same values, so that they
// encode alike: field by field, a nil list told from an empty one and times
// compared with ==. A class of one object (with an id, variants or
// consents) is never identical to another: those are not kept.
func (c *class) identical(d *class) bool {
	if c.ID != "" || d.ID != "" || c.Variants != nil || d.Variants != nil || c.Consents != nil || d.Consents != nil {
		return false
	}
	return c.Type == d.Type && c.V == d.V && c.Holder == d.Holder && c.Created == d.Created &&
		c.Verified == d.Verified && c.Recalled == d.Recalled && c.HolderOrg == d.HolderOrg &&
		(c.Topics == nil) == (d.Topics == nil) && slices.Equal(c.Topics, d.Topics) &&
		(c.Originators == nil) == (d.Originators == nil) && slices.Equal(c.Originators, d.Originators) &&
		c.Label.Identical(&d.Label)
}

// find returns the encoding kept for a class identical to c, or nil.
func (r *recentClasses) find(c *class) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.entries {
		if e := &r.entries[i]; e.data != nil && e.c.identical(c) {
			return e.data
		}
	}
	return nil
}

// add keeps c and its encoding in place of the oldest entry.
func (r *recentClasses) add(c class, data []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries[r.next] = recentClass{c: c, data: data}
	r.next = (r.next + 1) % len(r.entries)
}

func anyPersonal(vs []policy.Variant) bool {
	for i := range vs {
		if vs[i].Label.PersonalData {
			return true
		}
	}
	return false
}

// Subject decodes a class into the subject a decision is made for: the
// class's representative. Its ID is empty unless the class is one object's.
func Subject(data []byte) (*policy.Subject, error) {
	var c class
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("release class: %w", err)
	}
	if c.V != classVersion {
		return nil, fmt.Errorf("release class: version %d, this node reads version %d; classify the objects again", c.V, classVersion)
	}
	return &policy.Subject{ID: c.ID, Type: c.Type, Topics: c.Topics, Created: c.Created, Label: c.Label,
		Verified: c.Verified, Recalled: c.Recalled, Variants: c.Variants, Holder: c.Holder,
		HolderOrganisation: c.HolderOrg, Originators: c.Originators, Consents: c.Consents}, nil
}

// Epochs are the instants at which some community's membership changes,
// ascending. Between two of them every partner's memberships are constant,
// so objects created in the same epoch are alike for the rule that a
// partner must have been a member when the object was created.
type Epochs []time.Time

// EpochsOf collects the membership changes of the registry's communities.
func EpochsOf(reg *policy.Registry) Epochs {
	var e Epochs
	for _, c := range reg.Communities() {
		for _, m := range c.Members {
			for _, t := range []time.Time{m.From, m.Until} {
				if !t.IsZero() {
					e = append(e, t.UTC())
				}
			}
		}
	}
	slices.SortFunc(e, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(e, func(a, b time.Time) bool { return a.Equal(b) })
}

// Start returns the start of the epoch that holds t: the latest change at
// or before t, or, before the first change, the instant just before it.
func (e Epochs) Start(t time.Time) time.Time {
	if len(e) == 0 {
		return time.Time{}
	}
	i := sort.Search(len(e), func(i int) bool { return e[i].After(t) })
	if i == 0 {
		return e[0].Add(-time.Nanosecond)
	}
	return e[i-1]
}

// NewSubject is a parsed object version with its label, as the decision
// engine sees it on the node holder. The label was read from the object's
// markings as this node holds them (and, for what a partner sent, checked
// against the label bound to it), so it counts as verified.
func NewSubject(obj *tearline.Object, v *stix.Value, holder string, l tearline.Label) *policy.Subject {
	s := &policy.Subject{ID: obj.ID, Type: obj.Type, Holder: holder, Label: l, Verified: true}
	if c, ok := v.Get("created"); ok {
		s.Created, _, _ = stix.ParseTimestamp(c.Str)
	}
	if ls, ok := v.Get("labels"); ok {
		for _, t := range ls.Arr {
			s.Topics = append(s.Topics, t.Str)
		}
	}
	return s
}
