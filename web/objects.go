package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/stix"
)

// visibility decides, for one request, which object versions the user may
// see: the release engine's decision for access.Recipient(user), now, to
// receive the object. Only Allow shows an object; a tearline variant, a
// need for consent or for a person, and any error hide it. Decisions are
// remembered per subject, since a page's versions share few classes.
type visibility struct {
	s       *Server
	rq      *request
	decided map[*policy.Subject]bool
}

func (s *Server) visibility(rq *request) *visibility {
	return &visibility{s: s, rq: rq, decided: map[*policy.Subject]bool{}}
}

// filter returns the subjects of objs and, for each, whether the user may
// see it. Marking definitions are label plumbing and never shown alone.
func (v *visibility) filter(ctx context.Context, collection string, objs []tearline.StoredObject) ([]*policy.Subject, []bool, error) {
	subjects, err := v.s.cfg.Decider.Subjects(ctx, collection, objs)
	if err != nil {
		return nil, nil, err
	}
	if len(subjects) != len(objs) {
		return nil, nil, fmt.Errorf("decider gave %d subjects for %d objects", len(subjects), len(objs))
	}
	out := make([]bool, len(objs))
	for i, sub := range subjects {
		if sub == nil || objs[i].Type == "marking-definition" {
			continue
		}
		ok, seen := v.decided[sub]
		if !seen {
			d := v.s.cfg.Decider.Decide(&policy.Request{Subject: sub, Recipient: v.rq.rc, Action: tearline.Release, Time: v.rq.now})
			ok = d.Outcome == tearline.Allow
			v.decided[sub] = ok
		}
		out[i] = ok
	}
	return subjects, out, nil
}

// banner is how a subject's label is shown: the banner marking, or why
// there is none.
func banner(sub *policy.Subject) string {
	if sub == nil {
		return "UNREADABLE LABEL"
	}
	if label.Equal(sub.Label, tearline.Label{}) {
		return "NO READABLE LABEL"
	}
	return label.Format(sub.Label)
}

// searchQuery is a search of one collection's objects. Empty fields do
// not filter.
type searchQuery struct {
	Collection string
	Type       string
	Label      string // text the banner must contain, any case
	Text       string // text the name or id must contain, any case
	From       time.Time
	Until      time.Time // exclusive
	After      time.Time // paging cursor: the date added of the last version scanned
}

var stixType = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,249}$`)

// maxQueryText bounds free-text fields of queries.
const maxQueryText = 200

// parseSearch reads a search from a query string. Anything it does not
// understand is an error that says what to write instead.
func parseSearch(q url.Values) (searchQuery, error) {
	var out searchQuery
	text := func(name string) (string, error) {
		v := strings.TrimSpace(q.Get(name))
		if len(v) > maxQueryText || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return "", badInput("%s: at most %d characters of text", name, maxQueryText)
		}
		return v, nil
	}
	var err error
	if out.Collection, err = text("collection"); err != nil {
		return out, err
	}
	if out.Type, err = text("type"); err != nil {
		return out, err
	}
	if out.Type != "" && !stixType.MatchString(out.Type) {
		return out, badInput("type %q is not a STIX type name (such as indicator or threat-actor)", out.Type)
	}
	if out.Label, err = text("label"); err != nil {
		return out, err
	}
	if out.Text, err = text("q"); err != nil {
		return out, err
	}
	if out.From, err = parseDate(q.Get("from"), "from", false); err != nil {
		return out, err
	}
	if out.Until, err = parseDate(q.Get("until"), "until", true); err != nil {
		return out, err
	}
	if !out.From.IsZero() && !out.Until.IsZero() && !out.From.Before(out.Until) {
		return out, badInput("from must be before until")
	}
	if a := q.Get("after"); a != "" {
		t, err := time.Parse(time.RFC3339Nano, a)
		if err != nil || len(a) > 40 || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
			return out, badInput("after: not a paging cursor of this console; start the search again")
		}
		out.After = t.UTC()
	}
	return out, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 }

// parseDate reads YYYY-MM-DD (a whole UTC day; the end of it when end is
// set) or an RFC 3339 time.
func parseDate(s, field string, end bool) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if len(s) > 40 {
		return time.Time{}, badInput("%s: write a date as 2026-06-30 or 2026-06-30T12:00:00Z", field)
	}
	t, err := time.Parse(time.DateOnly, s)
	if err == nil && end {
		t = t.AddDate(0, 0, 1)
	}
	if err != nil {
		t, err = time.Parse(time.RFC3339, s)
		t = t.UTC()
	}
	if err != nil || t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, badInput("%s: write a date as 2026-06-30 or 2026-06-30T12:00:00Z, between the years 1 and 9999", field)
	}
	return t, nil
}

// values writes the query back as a query string, with after as cursor.
func (q searchQuery) values(after time.Time) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("collection", q.Collection)
	set("type", q.Type)
	set("label", q.Label)
	set("q", q.Text)
	if !q.From.IsZero() {
		v.Set("from", q.From.Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339))
	}
	if !after.IsZero() {
		v.Set("after", after.Format(time.RFC3339Nano))
	}
	return v
}

// objectRow is one search result.
type objectRow struct {
	Collection string // alias or id, for links
	ID, Type   string
	Name       string
	Banner     string
	Added      time.Time
}

// Search limits: results per page, versions read from the store per
// query, and versions examined per request before the page is cut short
// with a cursor to continue from.
const (
	resultsPerPage = 50
	storePage      = 500
	scanLimit      = 5000
)

type searchResult struct {
	Rows []objectRow
	// Next is the link that continues the search; empty when it is
	// complete.
	Next string
	// Limited: the page was cut short after examining scanLimit versions,
	// visible or not.
	Limited bool
}

// search runs q over the collection c and returns the versions the user
// may see, in the order they were added.
func (s *Server) search(ctx context.Context, rq *request, c tearline.Collection, q searchQuery) (searchResult, error) {
	var res searchResult
	vis := s.visibility(rq)
	store := tearline.ObjectQuery{Collection: c.ID, After: q.After, Limit: storePage}
	if q.Type != "" {
		store.Types = []string{q.Type}
	}
	if !q.From.IsZero() {
		store.AddedAfter = q.From.Add(-time.Nanosecond)
	}
	text := strings.ToLower(q.Text)
	wantLabel := strings.ToUpper(q.Label)
	scanned := 0
	for {
		page, err := s.cfg.Objects.Objects(ctx, store)
		if err != nil {
			return res, err
		}
		objs := page.Objects
		done := !page.More
		for i := range objs {
			if !q.Until.IsZero() && !objs[i].DateAdded.Before(q.Until) {
				objs, done = objs[:i], true
				break
			}
		}
		names := make([]string, len(objs))
		var candidates []tearline.StoredObject
		var candNames []string
		for i := range objs {
			names[i] = nameOf(objs[i].JSON)
			if objs[i].Type == "marking-definition" {
				continue
			}
			if text != "" && !strings.Contains(strings.ToLower(names[i]), text) && !strings.Contains(strings.ToLower(objs[i].ID), text) {
				continue
			}
			candidates = append(candidates, objs[i])
			candNames = append(candNames, names[i])
		}
		subjects, visible, err := vis.filter(ctx, c.ID, candidates)
		if err != nil {
			return res, err
		}
		cut := false
		for i := range candidates {
			if !visible[i] {
				continue
			}
			b := banner(subjects[i])
			if wantLabel != "" && !strings.Contains(b, wantLabel) {
				continue
			}
			res.Rows = append(res.Rows, objectRow{Collection: collectionRef(c), ID: candidates[i].ID, Type: candidates[i].Type,
				Name: candNames[i], Banner: b, Added: candidates[i].DateAdded})
			if len(res.Rows) == resultsPerPage {
				// Continue after this version: the rest of the store page
				// is read again on the next page.
				store.After = candidates[i].DateAdded
				cut = true
				break
			}
		}
		if cut {
			if !done || objs[len(objs)-1].DateAdded.After(store.After) {
				res.Next = Prefix + "/objects?" + q.values(store.After).Encode()
			}
			return res, nil
		}
		scanned += len(objs)
		if done || len(objs) == 0 {
			return res, nil
		}
		store.After = objs[len(objs)-1].DateAdded
		if scanned >= scanLimit {
			res.Limited = true
			res.Next = Prefix + "/objects?" + q.values(store.After).Encode()
			return res, nil
		}
	}
}

func collectionRef(c tearline.Collection) string {
	if c.Alias != "" {
		return c.Alias
	}
	return c.ID
}

// nameOf returns an object's name property, if it has one.
func nameOf(data []byte) string {
	var v struct {
		Name json.RawMessage `json:"name"`
	}
	if json.Unmarshal(data, &v) != nil || len(v.Name) == 0 {
		return ""
	}
	var name string
	if json.Unmarshal(v.Name, &name) != nil {
		return ""
	}
	return name
}

type objectsData struct {
	Query       searchQuery
	From, Until string
	Collections []tearline.Collection
	Collection  tearline.Collection
	Types       []string
	Result      searchResult
	// NoGrant: the user may read no collection.
	NoGrant bool
}

func (s *Server) objectsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	q, err := parseSearch(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	cs, err := s.grantedCollections(ctx, rq, false)
	if err != nil {
		return err
	}
	data := objectsData{Query: q, Collections: cs, Types: stix.TypeNames()}
	if !q.From.IsZero() {
		data.From = q.From.Format(time.DateOnly)
	}
	if !q.Until.IsZero() {
		data.Until = q.Until.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	if len(cs) == 0 {
		data.NoGrant = true
		s.render(w, r, rq, http.StatusOK, "objects.html", "Objects", data)
		return nil
	}
	c := cs[0]
	if q.Collection != "" {
		if c, err = s.collectionFor(ctx, rq, q.Collection, false); err != nil {
			return err
		}
	}
	data.Collection = c
	if data.Result, err = s.search(ctx, rq, c, q); err != nil {
		return err
	}
	s.render(w, r, rq, http.StatusOK, "objects.html", "Objects", data)
	return nil
}

// visibleObject returns the newest version of id in collection, with its
// subject, if the user may see it; errNotFound otherwise, whether it is
// missing or hidden.
func (s *Server) visibleObject(ctx context.Context, rq *request, collection, id string) (tearline.Collection, *tearline.StoredObject, *policy.Subject, error) {
	if len(id) > 300 || !utf8.ValidString(id) {
		return tearline.Collection{}, nil, nil, errNotFound
	}
	c, err := s.collectionFor(ctx, rq, collection, false)
	if err != nil {
		return c, nil, nil, err
	}
	page, err := s.cfg.Objects.Objects(ctx, tearline.ObjectQuery{Collection: c.ID, IDs: []string{id}})
	if err != nil {
		return c, nil, nil, err
	}
	if len(page.Objects) == 0 {
		return c, nil, nil, errNotFound
	}
	obj := &page.Objects[len(page.Objects)-1]
	subjects, visible, err := s.visibility(rq).filter(ctx, c.ID, []tearline.StoredObject{*obj})
	if err != nil {
		return c, nil, nil, err
	}
	if !visible[0] {
		return c, nil, nil, errNotFound
	}
	return c, obj, subjects[0], nil
}

// partnerDecision is the decision for one partner, with its reasons.
type partnerDecision struct {
	Partner  string
	Decision tearline.Decision
}

type storedRelease struct {
	Partner   string
	Outcome   tearline.Outcome
	Agreement string
	Variant   string
	Consent   string
	Reasons   string
}

type objectData struct {
	Collection  tearline.Collection
	ID, Type    string
	Name        string
	Banner      string
	Label       labelView
	Created     string
	Modified    string
	CreatedBy   string
	Added       time.Time
	Holder      string
	Originators []string
	JSON        string
	Self        tearline.Decision
	Decisions   []partnerDecision
	Class       int64
	Stored      []storedRelease
	Unstored    []string // partners with no stored release: denied
	// AskTo lists the partners this node may ask the originator's consent
	// to pass the object to; empty when it originated the object or keeps
	// no requests.
	AskTo []string
	// Graph is the object's neighbourhood: what it references and what
	// references it, as far as the user may see.
	Graph *graphView
}

// labelView lays a label out field by field.
type labelView struct {
	Policy, Classification string
	RelTo                  []string
	Controls               []string
	TLP                    string
	Other                  []string
}

func viewLabel(l tearline.Label) labelView {
	v := labelView{Policy: l.Policy, Classification: l.Classification}
	for _, c := range l.Categories {
		if c.Name == tearline.CategoryRelTo && c.Type == tearline.Permissive {
			v.RelTo = append(v.RelTo, c.Values...)
		} else {
			v.Other = append(v.Other, c.Name+": "+strings.Join(c.Values, ", "))
		}
	}
	add := func(on bool, name string) {
		if on {
			v.Controls = append(v.Controls, name)
		}
	}
	add(l.NoForn, "NOFORN")
	add(l.ORCON, "ORCON")
	add(l.RelIDO, "RELIDO")
	add(l.FOUO, "FOUO")
	if len(l.DisplayOnly) > 0 {
		v.Controls = append(v.Controls, "DISPLAY ONLY "+strings.Join(l.DisplayOnly, ", "))
	}
	if len(l.EyesOnly) > 0 {
		v.Controls = append(v.Controls, "EYES ONLY "+strings.Join(l.EyesOnly, ", "))
	}
	for _, h := range l.Handling {
		v.Controls = append(v.Controls, fmt.Sprintf("H%d", h-1))
	}
	if l.TLP != tearline.TLPNone {
		v.TLP = tlpNames[l.TLP]
	}
	if len(l.Purposes) > 0 {
		v.Other = append(v.Other, "purposes: "+strings.Join(l.Purposes, ", "))
	}
	if l.Exercise != "" {
		v.Other = append(v.Other, "exercise "+l.Exercise)
	}
	return v
}

var tlpNames = map[tearline.TLP]string{tearline.TLPClear: "CLEAR", tearline.TLPGreen: "GREEN", tearline.TLPAmber: "AMBER",
	tearline.TLPAmberStrict: "AMBER+STRICT", tearline.TLPRed: "RED"}

func (s *Server) objectPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	c, obj, sub, err := s.visibleObject(ctx, rq, r.PathValue("collection"), r.PathValue("id"))
	if err != nil {
		return err
	}
	d := objectData{Collection: c, ID: obj.ID, Type: obj.Type, Name: nameOf(obj.JSON), Banner: banner(sub),
		Label: viewLabel(sub.Label), Added: obj.DateAdded, Holder: sub.Holder}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, obj.JSON, "", "  "); err != nil {
		pretty.Reset()
		pretty.Write(obj.JSON)
	}
	d.JSON = pretty.String()
	if _, v, err := stix.Parse(bytes.Clone(obj.JSON)); err == nil {
		str := func(k string) string {
			if x, ok := v.Get(k); ok && x.Kind == stix.String {
				return x.Str
			}
			return ""
		}
		d.Created, d.Modified, d.CreatedBy = str("created"), str("modified"), str("created_by_ref")
	}
	d.Originators = slices.Clone(sub.Label.Originators)
	for _, o := range sub.Originators {
		if !slices.Contains(d.Originators, o) {
			d.Originators = append(d.Originators, o)
		}
	}
	d.Self = s.cfg.Decider.Decide(&policy.Request{Subject: sub, Recipient: rq.rc, Action: tearline.Release, Time: rq.now})
	partners := s.cfg.Decider.Partners(rq.now)
	for _, p := range partners {
		dec := s.cfg.Decider.Decide(&policy.Request{Subject: sub, Recipient: s.cfg.Decider.Recipient(p, rq.now),
			Action: tearline.Release, Time: rq.now})
		d.Decisions = append(d.Decisions, partnerDecision{Partner: p, Decision: dec})
	}
	class, releases, err := s.cfg.Objects.ReleaseOf(ctx, c.ID, obj.ID, obj.Version)
	if err != nil {
		return err
	}
	d.Class = class
	stored := map[string]bool{}
	for _, rel := range releases {
		stored[rel.Partner] = true
		d.Stored = append(d.Stored, storedRelease{Partner: rel.Partner, Outcome: rel.Outcome, Agreement: rel.Agreement,
			Variant: rel.Variant, Consent: strings.Join(rel.ConsentFrom, ", "), Reasons: strings.Join(rel.Reasons, ", ")})
	}
	for _, p := range partners {
		if !stored[p] {
			d.Unstored = append(d.Unstored, p)
		}
	}
	if s.cfg.Requests != nil && s.inRequestsCollection(c) && len(d.Originators) == 1 && d.Originators[0] != s.cfg.Node.Partner {
		for _, p := range partners {
			if p != d.Originators[0] && p != s.cfg.Node.Partner {
				d.AskTo = append(d.AskTo, p)
			}
		}
	}
	if d.Graph, err = s.objectGraph(ctx, rq, c, obj); err != nil {
		return err
	}
	s.render(w, r, rq, http.StatusOK, "object.html", obj.ID, d)
	return nil
}

// objectJSON downloads the object exactly as stored, after the same
// decision as its page.
func (s *Server) objectJSON(w http.ResponseWriter, r *http.Request, rq *request) error {
	_, obj, sub, err := s.visibleObject(r.Context(), rq, r.PathValue("collection"), r.PathValue("id"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+safeFilename(obj.ID)+`.json"`)
	// The label travels with the download, for whoever finds the file.
	w.Header().Set("X-Tearline-Banner", strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, banner(sub)))
	w.Write(obj.JSON)
	return nil
}

func safeFilename(id string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, id)
}
