package release

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
)

// ReasonUnreadableClass is the reason code of a denial for a class this
// node cannot read (a class written by another version of the node, until
// its objects are classified again).
const ReasonUnreadableClass = "release-class-unreadable"

// Releaser is what a release decision needs of the node: the compiled
// engine, the registry and agreements it was compiled from (the newest
// version of each agreement), and the node's own partner code.
type Releaser struct {
	Engine     *policy.Engine
	Registry   *policy.Registry
	Agreements []tearline.Agreement
	Holder     string
	// Epochs are the registry's membership epochs, for Classify.
	Epochs Epochs

	// recent are the classes Classify encoded last (see classify).
	recent recentClasses
}

// NewReleaser compiles the agreements against the registry.
func NewReleaser(reg *policy.Registry, agreements []tearline.Agreement, holder string) (*Releaser, error) {
	e, err := policy.NewEngine(reg, agreements)
	if err != nil {
		return nil, err
	}
	return &Releaser{Engine: e, Registry: reg, Agreements: agreements, Holder: holder, Epochs: EpochsOf(reg)}, nil
}

// Recipient is partner code as a decision sees it at a time: cleared for
// every level up to the ceilings of the agreements in force that it is a
// party to. A partner's node holds what its nation holds; the agreements
// are what bound it.
func (r *Releaser) Recipient(code string, at time.Time) *tearline.Recipient {
	levels := map[string][]string{}
	var policies []string
	for i := range r.Agreements {
		a := &r.Agreements[i]
		if !a.Active(at) || !r.partyTo(a, code, at) {
			continue
		}
		for _, c := range a.Ceilings {
			sch, ok := label.LookupScheme(c.Policy)
			if !ok {
				continue
			}
			top, ok := sch.Rank(c.Level)
			if !ok {
				continue
			}
			if _, seen := levels[c.Policy]; !seen {
				policies = append(policies, c.Policy)
			}
			for i, l := range sch.Levels() {
				if i <= top && !slices.Contains(levels[c.Policy], l) {
					levels[c.Policy] = append(levels[c.Policy], l)
				}
			}
		}
	}
	rc := &tearline.Recipient{Code: code, Nationality: r.Registry.Nationality(code)}
	for _, p := range policies {
		rc.Clearances = append(rc.Clearances, tearline.Clearance{Policy: p, Levels: levels[p]})
	}
	return rc
}

func (r *Releaser) partyTo(a *tearline.Agreement, code string, at time.Time) bool {
	for _, p := range a.Parties {
		if r.Registry.MemberAt(code, p, at) {
			return true
		}
	}
	return false
}

// Partners lists, sorted, the partners the node may release to at a time:
// those that share an agreement in force with the holder. Release sets are
// kept for them; every other partner gets nothing.
func (r *Releaser) Partners(at time.Time) []string {
	var out []string
	for _, p := range r.Registry.Partners() {
		if p.Code == r.Holder || slices.Contains(out, p.Code) {
			continue
		}
		for i := range r.Agreements {
			a := &r.Agreements[i]
			if a.Active(at) && r.partyTo(a, r.Holder, at) && r.partyTo(a, p.Code, at) {
				out = append(out, p.Code)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// Classify returns the release class of a subject on this node (see
// Classify).
func (r *Releaser) Classify(s *policy.Subject) ([]byte, error) {
	return classify(s, r.Epochs, &r.recent)
}

// PartnerImpact is what a change does to one partner, in object versions.
type PartnerImpact struct {
	Partner string
	// Gained: versions that become releasable (allowed, or a tearline of
	// them); Withdrawn: versions that no longer are; Changed: versions
	// whose outcome changes otherwise (consent now needed where it was
	// denied, ...). A change of reasons or deciding agreement alone is
	// stored and logged but not counted.
	Gained, Withdrawn, Changed int64
}

// Impact is what a change of the release sets does, partner by partner.
type Impact struct {
	Classes  int // classes decided
	Objects  int64
	Partners []PartnerImpact // sorted by code; only partners with changes
}

// Empty reports whether nothing changes.
func (im *Impact) Empty() bool { return len(im.Partners) == 0 }

// String says what the change does, for a liaison officer:
// "1,204 objects become releasable to JPN; 17 are withdrawn from NZL".
func (im *Impact) String() string {
	if im.Empty() {
		return "no release changes"
	}
	var parts []string
	for _, p := range im.Partners {
		if p.Gained > 0 {
			parts = append(parts, fmt.Sprintf("%s %s releasable to %s", count(p.Gained), verb(p.Gained, "becomes", "become"), p.Partner))
		}
		if p.Withdrawn > 0 {
			parts = append(parts, fmt.Sprintf("%s %s withdrawn from %s", count(p.Withdrawn), verb(p.Withdrawn, "is", "are"), p.Partner))
		}
		if p.Changed > 0 {
			parts = append(parts, fmt.Sprintf("%s %s a different decision for %s", count(p.Changed), verb(p.Changed, "gets", "get"), p.Partner))
		}
	}
	return strings.Join(parts, "; ")
}

func verb(n int64, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func count(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if n == 1 {
		return s + " object"
	}
	return s + " objects"
}

// Plan is a computed change of the release sets and its impact, not yet
// applied.
type Plan struct {
	Change tearline.ReleaseChange
	Impact Impact
}

// Options say what to decide.
type Options struct {
	// All re-decides every class; otherwise only the classes never
	// decided (new objects).
	All bool
	// At is the decision time.
	At time.Time
	// Actor and Cause are recorded in the audit log with the change.
	Actor, Cause string
}

type pair struct {
	class   int64
	partner string
}

// Compute decides the store's classes for every partner the node may
// release to, and compares the result with the decisions stored. With
// opts.All, the stored decisions for partners the node no longer releases
// to are removed (they become denials).
func Compute(ctx context.Context, st tearline.ReleaseStore, r *Releaser, opts Options) (*Plan, error) {
	classes, err := st.ReleaseClasses(ctx, !opts.All)
	if err != nil {
		return nil, err
	}
	stored, err := st.Releases(ctx)
	if err != nil {
		return nil, err
	}
	current := make(map[pair]tearline.ClassRelease, len(stored))
	for _, s := range stored {
		current[pair{s.Class, s.Partner}] = s
	}
	at := opts.At.UTC()
	partners := r.Partners(at)
	recipients := make([]*tearline.Recipient, len(partners))
	for i, p := range partners {
		recipients[i] = r.Recipient(p, at)
	}
	plan := &Plan{Change: tearline.ReleaseChange{Time: at, Actor: opts.Actor, Cause: opts.Cause}}
	impact := map[string]*PartnerImpact{}
	note := func(partner string, objects int64, before, after *tearline.ClassRelease) {
		was, now := releasable(before), releasable(after)
		pi := impact[partner]
		if pi == nil {
			pi = &PartnerImpact{Partner: partner}
			impact[partner] = pi
		}
		switch {
		case !was && now:
			pi.Gained += objects
		case was && !now:
			pi.Withdrawn += objects
		case outcome(before) != outcome(after):
			pi.Changed += objects
		}
	}
	decided := map[int64]bool{}
	for _, c := range classes {
		plan.Impact.Classes++
		plan.Impact.Objects += c.Objects
		plan.Change.Decided = append(plan.Change.Decided, c.ID)
		decided[c.ID] = true
		subject, err := Subject(c.Subject)
		for i, p := range partners {
			row := tearline.ClassRelease{Class: c.ID, Partner: p, Outcome: tearline.Deny, Reasons: []string{ReasonUnreadableClass}}
			if err == nil {
				d := r.Engine.Decide(&policy.Request{Subject: subject, Recipient: recipients[i], Action: tearline.Release, Time: at})
				row = fromDecision(c.ID, p, d)
			}
			old, had := current[pair{c.ID, p}]
			if had && same(&old, &row) {
				continue
			}
			plan.Change.Set = append(plan.Change.Set, row)
			if had {
				note(p, c.Objects, &old, &row)
			} else {
				note(p, c.Objects, nil, &row)
			}
		}
	}
	if opts.All {
		objects := map[int64]int64{}
		for _, c := range classes {
			objects[c.ID] = c.Objects
		}
		for _, s := range stored {
			if decided[s.Class] && !slices.Contains(partners, s.Partner) {
				plan.Change.Remove = append(plan.Change.Remove, tearline.ClassRelease{Class: s.Class, Partner: s.Partner})
				note(s.Partner, objects[s.Class], &s, nil)
			}
		}
	}
	for _, pi := range impact {
		if pi.Gained+pi.Withdrawn+pi.Changed > 0 {
			plan.Impact.Partners = append(plan.Impact.Partners, *pi)
		}
	}
	slices.SortFunc(plan.Impact.Partners, func(a, b PartnerImpact) int { return strings.Compare(a.Partner, b.Partner) })
	plan.Change.Summary = map[string]string{}
	for _, p := range plan.Impact.Partners {
		plan.Change.Summary[p.Partner] = fmt.Sprintf("+%d -%d ~%d", p.Gained, p.Withdrawn, p.Changed)
	}
	return plan, nil
}

// Apply writes a plan in one transaction, with its audit entry.
func Apply(ctx context.Context, st tearline.ReleaseStore, p *Plan) error {
	if len(p.Change.Set) == 0 && len(p.Change.Remove) == 0 && len(p.Change.Decided) == 0 {
		return nil
	}
	return st.ApplyReleases(ctx, p.Change)
}

// Update decides the classes never decided (objects added since the last
// update) and applies the result.
func Update(ctx context.Context, st tearline.ReleaseStore, r *Releaser, at time.Time, actor string) (*Plan, error) {
	p, err := Compute(ctx, st, r, Options{At: at, Actor: actor, Cause: "new objects"})
	if err != nil {
		return nil, err
	}
	return p, Apply(ctx, st, p)
}

func fromDecision(class int64, partner string, d tearline.Decision) tearline.ClassRelease {
	row := tearline.ClassRelease{Class: class, Partner: partner, Outcome: d.Outcome, Agreement: d.Agreement,
		Variant: d.Variant, ConsentFrom: d.ConsentFrom}
	row.Reasons = make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		row.Reasons[i] = r.Code
	}
	return row
}

// outcome reads a missing release as the denial it stands for.
func outcome(r *tearline.ClassRelease) tearline.Outcome {
	if r == nil {
		return tearline.Deny
	}
	return r.Outcome
}

func releasable(r *tearline.ClassRelease) bool {
	return r != nil && (r.Outcome == tearline.Allow || r.Outcome == tearline.AllowVariant)
}

func same(a, b *tearline.ClassRelease) bool {
	return a.Outcome == b.Outcome && a.Agreement == b.Agreement && a.Variant == b.Variant &&
		slices.Equal(a.ConsentFrom, b.ConsentFrom) && slices.Equal(a.Reasons, b.Reasons)
}

// NewExerciseReleaser is NewReleaser for a node that plays in exercise:
// its engine releases that exercise's material within it (see
// policy.NewExerciseEngine), and it knows only the exercise's
// participants, so that nothing is ever released to anyone else, even if
// the node is pointed at a real partner. Agreement parties that are not
// participants are dropped; an agreement left without parties is too.
func NewExerciseReleaser(reg *policy.Registry, agreements []tearline.Agreement, holder, exercise string, participants []string) (*Releaser, error) {
	xreg := policy.NewRegistry()
	for _, p := range reg.Partners() {
		if slices.Contains(participants, p.Code) {
			if err := xreg.AddPartner(p); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range reg.Communities() {
		var members []tearline.Membership
		for _, m := range c.Members {
			if slices.Contains(participants, m.Partner) {
				members = append(members, m)
			}
		}
		c.Members = members
		if err := xreg.AddCommunity(c); err != nil {
			return nil, err
		}
	}
	for _, code := range participants {
		if !xreg.Known(code) {
			return nil, fmt.Errorf("exercise %s: participant %q is not a known partner", exercise, code)
		}
	}
	var kept []tearline.Agreement
	for _, a := range agreements {
		var parties []string
		for _, p := range a.Parties {
			if xreg.Known(p) {
				parties = append(parties, p)
			}
		}
		if len(parties) == 0 {
			continue
		}
		a.Parties = parties
		kept = append(kept, a)
	}
	e, err := policy.NewExerciseEngine(xreg, kept, exercise)
	if err != nil {
		return nil, err
	}
	return &Releaser{Engine: e, Registry: xreg, Agreements: kept, Holder: holder, Epochs: EpochsOf(xreg)}, nil
}
