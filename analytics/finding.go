package analytics

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/tearline/tearline"
)

// Report is one visible object's report of an observable, with what the
// confidence in it rests on.
type Report struct {
	Object  string    `json:"object"`
	Version time.Time `json:"version"`
	Type    string    `json:"type"`
	// Originator is the partner that vouches for the object (see
	// Corpus); Own is set when that is this node.
	Originator string `json:"originator"`
	Own        bool   `json:"own,omitempty"`
	// Label is the object's label as a banner.
	Label string `json:"label"`
	// Match is how the reported value matched the one asked about, and
	// Reported the value the object names.
	Match    MatchKind  `json:"match"`
	Reported Observable `json:"reported"`
	// Confidence is the object's STIX confidence, or ConfidenceUnknown.
	Confidence int `json:"confidence"`
	// Grade is the label's Admiralty grade ("B2", "C", "3"), empty when
	// not graded.
	Grade string `json:"grade,omitempty"`
	// Observed is when the object says the information was last known
	// true.
	Observed time.Time `json:"observed"`
	Actions  Actions   `json:"actions"`
	// Assessment is the confidence in this report, with every input.
	Assessment Assessment `json:"assessment"`
}

// Finding is what a viewer's visible objects say about one observable.
type Finding struct {
	Observable Observable `json:"observable"`
	// Reports are sorted by score, highest first, then by object id.
	Reports []Report `json:"reports"`
	// Originators are the independent originators that corroborate the
	// observable, sorted, and Corroboration their number. Indicators
	// corroborate; an observed cyber-observable says only that a value
	// was seen, not that it is hostile, so it counts only when no
	// indicator reports the observable.
	Originators   []string `json:"originators"`
	Corroboration int      `json:"corroboration"`
	// Observed is the newest Observed of the corroborating reports, from
	// which ages run.
	Observed time.Time `json:"observed"`
	// Best is the assessment of the first report; Actions the strictest
	// of the reports' permitted actions.
	Best    Assessment `json:"best"`
	Actions Actions    `json:"actions"`
}

// Correlate returns what the viewer's visible objects say about
// observable o, for the match kinds asked (0 means DefaultMatches), with
// the confidence in each report as of now (the zero time means the
// corpus's clock). An observable no visible object reports gives a
// Finding without reports. It returns a *ValueError for an invalid o.
func (c *Corpus) Correlate(v *View, o Observable, kinds MatchKind, now time.Time) (Finding, error) {
	if v == nil || v.c != c {
		return Finding{}, ErrNoDecider
	}
	if now.IsZero() {
		now = c.opts.Now()
	}
	q, err := prepare(o)
	if err != nil {
		return Finding{}, err
	}
	o = q.full().obs
	c.mu.RLock()
	defer c.mu.RUnlock()
	m, err := c.ix.Lookup(nil, o, v.visibility(), kinds)
	if err != nil {
		return Finding{}, err
	}
	return c.finding(o, m, false, now), nil
}

// CorrelateObject returns a Finding for each observable of object id, as
// Correlate would for each. An object the corpus does not hold and one
// the viewer may not see give the same error, unwrapping to
// tearline.ErrNotFound.
func (c *Corpus) CorrelateObject(v *View, id string, kinds MatchKind, now time.Time) ([]Finding, error) {
	if v == nil || v.c != c {
		return nil, ErrNoDecider
	}
	if now.IsZero() {
		now = c.opts.Now()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	vis := v.visibility()
	n, ok := c.byID[id]
	if !ok || !vis(n) || !c.docs[n].indexed {
		return nil, fmt.Errorf("analytics: object %s: %w", shown(id), tearline.ErrNotFound)
	}
	cs, err := c.ix.CorrelateDocument(n, vis, kinds)
	if err != nil {
		return nil, err
	}
	out := make([]Finding, len(cs))
	for i, cr := range cs {
		out[i] = c.finding(cr.Observable, cr.Matches, false, now)
	}
	return out, nil
}

// finding turns the visible matches of observable o into a Finding. With
// indicatorsOnly, matches of other documents are dropped. The caller
// holds the read lock.
func (c *Corpus) finding(o Observable, matches []Match, indicatorsOnly bool, now time.Time) Finding {
	f := Finding{Observable: o}
	type reportKey struct {
		doc uint32
		obs Observable
	}
	seen := map[reportKey]bool{}
	for _, m := range matches {
		d := &c.docs[m.Doc]
		if indicatorsOnly && d.typ != "indicator" {
			continue
		}
		key := reportKey{m.Doc, m.Stored}
		if seen[key] {
			continue
		}
		seen[key] = true
		cl := c.class(d.class)
		r := Report{Object: d.id, Version: d.version, Type: d.typ, Originator: m.Originator, Match: m.Kind,
			Reported: m.Stored, Confidence: d.confidence, Observed: d.observed}
		if cl != nil {
			r.Own, r.Label, r.Actions = cl.own, cl.banner, cl.actions
			if cl.subject != nil {
				r.Grade = grade(cl.subject.Label)
			}
		}
		f.Reports = append(f.Reports, r)
	}
	corroborating := func(r *Report) bool { return r.Type == "indicator" }
	if !slices.ContainsFunc(f.Reports, func(r Report) bool { return r.Type == "indicator" }) {
		corroborating = func(*Report) bool { return true }
	}
	for i := range f.Reports {
		r := &f.Reports[i]
		if !corroborating(r) {
			continue
		}
		if !slices.Contains(f.Originators, r.Originator) {
			f.Originators = append(f.Originators, r.Originator)
		}
		f.Observed = latest(f.Observed, r.Observed)
	}
	slices.Sort(f.Originators)
	f.Corroboration = len(f.Originators)
	for i := range f.Reports {
		r := &f.Reports[i]
		r.Assessment = c.assess(r, f, now)
		f.Actions = strictest(f.Actions, r.Actions)
	}
	slices.SortFunc(f.Reports, func(a, b Report) int {
		if c := cmp.Compare(b.Assessment.Score, a.Assessment.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Object, b.Object); c != 0 {
			return c
		}
		if c := a.Version.Compare(b.Version); c != 0 {
			return c
		}
		return compareObservables(a.Reported, b.Reported)
	})
	if len(f.Reports) > 0 {
		f.Best = f.Reports[0].Assessment
	}
	return f
}

// assess scores one report of a finding. The inputs come from the object
// (confidence), its label (grading) and the finding (corroboration and
// the newest observation), all of them visible to the viewer. Inputs the
// stores let through but Assess refuses (a grade outside the scales)
// score the report as ungraded rather than dropping it.
func (c *Corpus) assess(r *Report, f Finding, now time.Time) Assessment {
	e := Evidence{Confidence: r.Confidence, Corroboration: max(f.Corroboration, 1), Observed: f.Observed, Now: now,
		HalfLife: c.opts.HalfLife(r.Reported.Kind)}
	if e.Observed.IsZero() {
		e.Observed = r.Observed
	}
	if e.Observed.IsZero() {
		e.Observed = now
	}
	if e.HalfLife <= 0 {
		e.HalfLife = DefaultHalfLife
	}
	if e.Confidence != ConfidenceUnknown && (e.Confidence < 0 || e.Confidence > 100) {
		e.Confidence = ConfidenceUnknown
	}
	if cl := c.classByDocID(r); cl != nil && cl.subject != nil {
		l := cl.subject.Label
		if _, ok := reliabilityWeight[l.Reliability]; ok && l.Credibility >= 0 && l.Credibility <= 6 {
			e.Reliability, e.Credibility = l.Reliability, l.Credibility
		}
	}
	a, err := Assess(e)
	if err != nil {
		// Every input was brought into range above; should Assess still
		// refuse, the report shows why instead of a score.
		return Assessment{Evidence: e, InformationBasis: "not assessed: " + err.Error()}
	}
	return a
}

func (c *Corpus) classByDocID(r *Report) *classInfo {
	n, ok := c.byID[r.Object]
	if !ok {
		return nil
	}
	return c.class(c.docs[n].class)
}

// grade writes a label's Admiralty grade: "B2", or the part that is set.
func grade(l tearline.Label) string {
	s := ""
	if l.Reliability != 0 {
		s += string(rune(l.Reliability))
	}
	if l.Credibility != 0 {
		s += fmt.Sprint(l.Credibility)
	}
	return s
}
