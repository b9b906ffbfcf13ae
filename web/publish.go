package web

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/stix"
)

// Limits of what one publication may hold: the console is for what an
// analyst pastes; bulk content goes through 'tearline import'.
const (
	maxPaste        = 4 << 20
	maxPastedObject = 1000
)

// labelOptions are the choices the label picker offers.
type labelOptions struct {
	Schemes  []schemeOption
	Codes    []string // partner and community codes for REL TO and DISPLAY ONLY
	TLPs     []string
	Handling []string
}

type schemeOption struct {
	Policy, Name string
	Levels       []levelOption
}

type levelOption struct {
	Name         string
	Unclassified bool
}

func (s *Server) labelOptions(rq *request) labelOptions {
	o := labelOptions{TLPs: []string{"CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"}, Handling: []string{"H0", "H1", "H2"}}
	for _, sch := range label.Schemes() {
		so := schemeOption{Policy: sch.Policy, Name: sch.Name}
		for _, l := range sch.Levels() {
			so.Levels = append(so.Levels, levelOption{Name: l, Unclassified: sch.Unclassified(l)})
		}
		o.Schemes = append(o.Schemes, so)
	}
	codes := append([]string{s.cfg.Node.Partner}, s.cfg.Decider.Partners(rq.now)...)
	label.SortCodes(codes)
	codes = slices.Compact(codes)
	communities := slices.Clone(s.cfg.Decider.Communities())
	slices.Sort(communities)
	o.Codes = append(codes, slices.Compact(communities)...)
	return o
}

// chosenLabel is what the picker's form holds, to show it again.
type chosenLabel struct {
	Policy, Level string
	RelTo         map[string]bool
	Display       map[string]bool
	NoForn        bool
	ORCON         bool
	RelIDO        bool
	FOUO          bool
	TLP           string
	Handling      map[string]bool
	Purposes      string
}

// ruleView is a refused label: the named rule, what was wrong and what to
// do.
type ruleView struct {
	Rule, Message, Fix string
}

func (e *ruleView) Error() string { return e.Message + " [" + e.Rule + "]" }

// parseLabelForm reads the label picker's fields into a label, checks it
// with label.Validate and returns it normalised. codes are the partner and
// community codes the picker offered: a list naming any other is refused.
// Errors are *ruleView.
func parseLabelForm(form url.Values, codes []string) (tearline.Label, chosenLabel, error) {
	ch := chosenLabel{RelTo: map[string]bool{}, Display: map[string]bool{}, Handling: map[string]bool{}}
	one := func(name string) (string, error) {
		vs := form[name]
		switch {
		case len(vs) > 1:
			return "", &ruleView{Rule: "malformed-value", Message: fmt.Sprintf("%s is given %d times", name, len(vs)), Fix: "choose one value"}
		case len(vs) == 0:
			return "", nil
		}
		v := strings.TrimSpace(vs[0])
		if len(v) > 256 || !utf8.ValidString(v) || strings.ContainsFunc(v, isControl) {
			return "", &ruleView{Rule: "malformed-value", Message: name + " is not a value the picker offers", Fix: "choose from the list"}
		}
		return v, nil
	}
	flag := func(name string) (bool, error) {
		v, err := one(name)
		if err != nil || v == "" {
			return false, err
		}
		if v != "on" {
			return false, &ruleView{Rule: "malformed-value", Message: name + " is a check box", Fix: "tick it or leave it"}
		}
		return true, nil
	}
	list := func(name string, set map[string]bool) ([]string, error) {
		if len(form[name]) > len(codes) {
			return nil, &ruleView{Rule: "malformed-list", Message: name + " names more codes than the picker offers", Fix: "choose from the list"}
		}
		var out []string
		for _, c := range form[name] {
			if !slices.Contains(codes, c) {
				return nil, &ruleView{Rule: "invalid-code", Message: fmt.Sprintf("%.40q is not a partner or community this node shares with", c),
					Fix: "choose codes from the list"}
			}
			if !set[c] {
				set[c] = true
				out = append(out, c)
			}
		}
		return out, nil
	}
	var l tearline.Label
	var err error
	if ch.Policy, err = one("policy"); err != nil {
		return l, ch, err
	}
	if ch.Level, err = one("level"); err != nil {
		return l, ch, err
	}
	if ch.Level != "" && ch.Policy == "" {
		return l, ch, &ruleView{Rule: "missing-policy", Message: "a level was chosen without its policy", Fix: "choose the classification policy first"}
	}
	if ch.Policy != "" && ch.Level == "" {
		return l, ch, &ruleView{Rule: "missing-classification", Message: "policy " + ch.Policy + " has no level", Fix: "choose a level of the policy"}
	}
	l.Policy, l.Classification = ch.Policy, ch.Level
	relTo, err := list("relto", ch.RelTo)
	if err != nil {
		return l, ch, err
	}
	if len(relTo) > 0 {
		l.Categories = []tearline.Category{{Type: tearline.Permissive, Name: tearline.CategoryRelTo, Values: relTo}}
	}
	if l.DisplayOnly, err = list("display", ch.Display); err != nil {
		return l, ch, err
	}
	for _, f := range []struct {
		name string
		to   *bool
		view *bool
	}{{"noforn", &l.NoForn, &ch.NoForn}, {"orcon", &l.ORCON, &ch.ORCON}, {"relido", &l.RelIDO, &ch.RelIDO}, {"fouo", &l.FOUO, &ch.FOUO}} {
		if *f.to, err = flag(f.name); err != nil {
			return l, ch, err
		}
		*f.view = *f.to
	}
	if ch.TLP, err = one("tlp"); err != nil {
		return l, ch, err
	}
	if ch.TLP != "" {
		found := false
		for t, name := range tlpNames {
			if name == ch.TLP {
				l.TLP, found = t, true
			}
		}
		if !found {
			return l, ch, &ruleView{Rule: "unknown-tlp", Message: fmt.Sprintf("%.40q is not a TLP colour", ch.TLP), Fix: "choose CLEAR, GREEN, AMBER, AMBER+STRICT or RED"}
		}
	}
	if len(form["handling"]) > 3 {
		return l, ch, &ruleView{Rule: "unknown-handling-code", Message: "too many handling codes", Fix: "choose from H0, H1 and H2"}
	}
	for _, h := range form["handling"] {
		code, ok := map[string]tearline.HandlingCode{"H0": tearline.H0, "H1": tearline.H1, "H2": tearline.H2}[h]
		if !ok {
			return l, ch, &ruleView{Rule: "unknown-handling-code", Message: fmt.Sprintf("%.40q is not a handling code the picker offers", h), Fix: "choose H0, H1 or H2"}
		}
		if !ch.Handling[h] {
			ch.Handling[h] = true
			l.Handling = append(l.Handling, code)
		}
	}
	if ch.Purposes, err = one("purposes"); err != nil {
		return l, ch, err
	}
	for _, p := range strings.Split(ch.Purposes, ",") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			l.Purposes = append(l.Purposes, p)
		}
	}
	if err := label.Validate(l); err != nil {
		var re *label.RuleError
		if errors.As(err, &re) {
			return l, ch, &ruleView{Rule: re.Rule, Message: re.Msg, Fix: re.Fix}
		}
		return l, ch, &ruleView{Rule: "invalid-label", Message: err.Error()}
	}
	return label.Normalize(l), ch, nil
}

// pasted is one object of a paste.
type pasted struct {
	Index    int
	ID, Type string
	Name     string
	obj      *tearline.Object
	v        *stix.Value
}

// parsePaste reads pasted STIX (a bundle, objects or JSON lines) and
// returns its objects, or every problem found, each saying which object
// and what to do. Objects must carry no markings of their own: the console
// labels what it publishes with the label picked, and a paste that mixed
// labels would not get the release preview it shows.
func parsePaste(content []byte) ([]pasted, []string) {
	if len(bytes.TrimSpace(content)) == 0 {
		return nil, []string{"Paste at least one STIX 2.1 object or bundle."}
	}
	if len(content) > maxPaste {
		return nil, []string{fmt.Sprintf("The paste holds %d bytes; the console publishes at most %d MiB (use 'tearline import' for more).", len(content), maxPaste>>20)}
	}
	var out []pasted
	var problems []string
	dec := stix.NewDecoder(bytes.NewReader(content))
	for {
		raw, index, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var oe *stix.ObjectError
			if errors.As(err, &oe) {
				problems = append(problems, oe.Error())
				continue
			}
			problems = append(problems, err.Error())
			break
		}
		if len(out)+len(problems) >= maxPastedObject {
			problems = append(problems, fmt.Sprintf("The paste holds more than %d objects; publish it with 'tearline import'.", maxPastedObject))
			break
		}
		obj, v, err := stix.Parse(bytes.Clone(raw))
		if err != nil {
			var oe *stix.ObjectError
			if errors.As(err, &oe) {
				oe.Index = index
			}
			problems = append(problems, err.Error())
			continue
		}
		p := pasted{Index: index, ID: obj.ID, Type: obj.Type, obj: obj, v: v}
		if n, ok := v.Get("name"); ok && n.Kind == stix.String {
			p.Name = n.Str
		}
		switch {
		case obj.Type == "marking-definition":
			problems = append(problems, fmt.Sprintf("object %d (%s): marking definitions are made from the label you pick; remove it from the paste", index, obj.ID))
			continue
		case has(v, "object_marking_refs") || has(v, "granular_markings"):
			problems = append(problems, fmt.Sprintf("object %d (%s) carries markings of its own; remove object_marking_refs and granular_markings: the console labels it with the label you pick", index, obj.ID))
			continue
		}
		out = append(out, p)
	}
	if len(out) == 0 && len(problems) == 0 {
		problems = append(problems, "The paste holds no STIX object.")
	}
	return out, problems
}

func has(v *stix.Value, key string) bool {
	_, ok := v.Get(key)
	return ok
}

type pastedRow struct {
	Index          int
	ID, Type, Name string
}

// previewRow is one partner's decision for some of the objects.
type previewRow struct {
	Partner   string
	Outcome   tearline.Outcome
	Agreement string
	Variant   string
	Consent   string
	Reasons   []tearline.Reason
	// Objects names the objects the row is about when the partner's
	// decision differs between them; empty means all of them.
	Objects []string
}

type previewData struct {
	Banner   string
	Objects  []pastedRow
	Receive  []previewRow
	Withheld []previewRow
	// Self is the publishing user's own decision: a label above their
	// clearance is allowed, but they are told they will not see it.
	Self   tearline.Decision
	Digest string
}

// releasePreview decides every pasted object, under label l, for every
// partner the node shares an agreement with.
func (s *Server) releasePreview(rq *request, objs []pasted, l tearline.Label) *previewData {
	p := &previewData{Banner: label.Format(l)}
	subjects := make([]*policy.Subject, len(objs))
	for i, o := range objs {
		p.Objects = append(p.Objects, pastedRow{Index: o.Index, ID: o.ID, Type: o.Type, Name: o.Name})
		subjects[i] = s.cfg.Decider.NewSubject(o.obj, o.v, l)
	}
	p.Self = s.worstDecision(subjects, rq.rc, rq)
	for _, partner := range s.cfg.Decider.Partners(rq.now) {
		rc := s.cfg.Decider.Recipient(partner, rq.now)
		type group struct {
			row  previewRow
			objs []string
		}
		var groups []*group
		for i, sub := range subjects {
			d := s.cfg.Decider.Decide(&policy.Request{Subject: sub, Recipient: rc, Action: tearline.Release, Time: rq.now})
			row := previewRow{Partner: partner, Outcome: d.Outcome, Agreement: d.Agreement, Variant: d.Variant,
				Consent: strings.Join(d.ConsentFrom, ", "), Reasons: d.Reasons}
			var g *group
			for _, x := range groups {
				if sameRow(x.row, row) {
					g = x
				}
			}
			if g == nil {
				g = &group{row: row}
				groups = append(groups, g)
			}
			g.objs = append(g.objs, objs[i].ID)
		}
		for _, g := range groups {
			if len(groups) > 1 {
				g.row.Objects = g.objs
			}
			if g.row.Outcome == tearline.Allow || g.row.Outcome == tearline.AllowVariant {
				p.Receive = append(p.Receive, g.row)
			} else {
				p.Withheld = append(p.Withheld, g.row)
			}
		}
	}
	return p
}

// worstDecision is the first decision among subjects that is not Allow,
// or the first Allow.
func (s *Server) worstDecision(subjects []*policy.Subject, rc *tearline.Recipient, rq *request) tearline.Decision {
	var first tearline.Decision
	for i, sub := range subjects {
		d := s.cfg.Decider.Decide(&policy.Request{Subject: sub, Recipient: rc, Action: tearline.Release, Time: rq.now})
		if d.Outcome != tearline.Allow {
			return d
		}
		if i == 0 {
			first = d
		}
	}
	return first
}

func sameRow(a, b previewRow) bool {
	if a.Outcome != b.Outcome || a.Agreement != b.Agreement || a.Variant != b.Variant || a.Consent != b.Consent || len(a.Reasons) != len(b.Reasons) {
		return false
	}
	for i := range a.Reasons {
		if a.Reasons[i] != b.Reasons[i] {
			return false
		}
	}
	return true
}

// previewDigest binds a publication to the preview shown: the session,
// collection, label and content. Publishing with another digest is
// refused, so nothing is published that the user did not preview.
func (s *Server) previewDigest(rq *request, collection, banner string, content []byte) string {
	m := hmac.New(sha256.New, s.previewKey)
	for _, part := range [][]byte{[]byte(rq.sess.id), []byte(collection), []byte(banner)} {
		fmt.Fprintf(m, "%d:", len(part))
		m.Write(part)
	}
	m.Write(content)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type publishData struct {
	Collections []tearline.Collection
	Collection  string
	Content     string
	Options     labelOptions
	Chosen      chosenLabel
	Banner      string
	LabelError  *ruleView
	Problems    []string
	Preview     *previewData
	NoGrant     bool
	Off         bool
}

func (s *Server) publishData(ctx context.Context, rq *request) (*publishData, error) {
	d := &publishData{Options: s.labelOptions(rq), Off: s.cfg.Publisher == nil,
		Chosen: chosenLabel{RelTo: map[string]bool{}, Display: map[string]bool{}, Handling: map[string]bool{}}}
	if _, ok := label.LookupScheme(s.cfg.Node.Partner); ok {
		d.Chosen.Policy = s.cfg.Node.Partner
	}
	cs, err := s.grantedCollections(ctx, rq, true)
	if err != nil {
		return nil, err
	}
	d.Collections, d.NoGrant = cs, len(cs) == 0
	if len(cs) > 0 {
		d.Collection = cs[0].ID
	}
	return d, nil
}

func (s *Server) publishPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.publishData(r.Context(), rq)
	if err != nil {
		return err
	}
	s.render(w, r, rq, http.StatusOK, "publish.html", "Publish", d)
	return nil
}

// checkLabel answers the picker's script as the user picks: the banner of
// the label, or the rule it breaks. It carries no object data.
func (s *Server) checkLabel(w http.ResponseWriter, r *http.Request, rq *request) error {
	l, _, err := parseLabelForm(r.PostForm, s.labelOptions(rq).Codes)
	out := map[string]string{}
	var rv *ruleView
	switch {
	case errors.As(err, &rv):
		out["rule"], out["message"], out["fix"] = rv.Rule, rv.Message, rv.Fix
	case err != nil:
		return err
	default:
		out["banner"] = label.Format(l)
	}
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(out)
}

// readPublication reads the publish form: the collection, the label and
// the paste. It returns the page data to show again when anything is
// wrong (ok false).
func (s *Server) readPublication(ctx context.Context, r *http.Request, rq *request) (d *publishData, objs []pasted, l tearline.Label, ok bool, err error) {
	d, err = s.publishData(ctx, rq)
	if err != nil {
		return nil, nil, l, false, err
	}
	if d.Off || d.NoGrant {
		return d, nil, l, false, nil
	}
	d.Content = r.PostForm.Get("stix")
	if want := r.PostForm.Get("collection"); want != "" {
		c, err := s.collectionFor(ctx, rq, want, true)
		if err != nil {
			return nil, nil, l, false, badInput("you may not publish to that collection")
		}
		d.Collection = c.ID
	}
	l, d.Chosen, err = parseLabelForm(r.PostForm, d.Options.Codes)
	var rv *ruleView
	if errors.As(err, &rv) {
		d.LabelError = rv
	} else if err != nil {
		return nil, nil, l, false, err
	} else {
		d.Banner = label.Format(l)
	}
	objs, d.Problems = parsePaste([]byte(d.Content))
	return d, objs, l, d.LabelError == nil && len(d.Problems) == 0, nil
}

func (s *Server) preview(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, objs, l, ok, err := s.readPublication(r.Context(), r, rq)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if ok {
		d.Preview = s.releasePreview(rq, objs, l)
		d.Preview.Digest = s.previewDigest(rq, d.Collection, d.Banner, []byte(d.Content))
	} else {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, rq, status, "publish.html", "Publish: release preview", d)
	return nil
}

type publishedData struct {
	Collection tearline.Collection
	Banner     string
	Result     PublishResult
	Objects    []pastedRow
}

func (s *Server) publish(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	d, objs, l, ok, err := s.readPublication(ctx, r, rq)
	if err != nil {
		return err
	}
	if !ok {
		s.render(w, r, rq, http.StatusUnprocessableEntity, "publish.html", "Publish", d)
		return nil
	}
	if !equalSecret(r.PostForm.Get("digest"), s.previewDigest(rq, d.Collection, d.Banner, []byte(d.Content))) {
		d.Problems = []string{"The content, label or collection changed since the release preview, or there was none: preview again before publishing."}
		s.render(w, r, rq, http.StatusConflict, "publish.html", "Publish", d)
		return nil
	}
	res, err := s.cfg.Publisher.Publish(ctx, Publication{Collection: d.Collection, Content: []byte(d.Content), Label: l, Actor: rq.user.Name})
	if err != nil {
		return err
	}
	c, err := s.collectionFor(ctx, rq, d.Collection, true)
	if err != nil {
		return err
	}
	out := publishedData{Collection: c, Banner: d.Banner, Result: res}
	for _, o := range objs {
		out.Objects = append(out.Objects, pastedRow{Index: o.Index, ID: o.ID, Type: o.Type, Name: o.Name})
	}
	s.cfg.Logger.Info("console: published", "user", rq.user.Name, "collection", c.ID, "banner", d.Banner,
		"added", res.Added, "present", res.Present, "rejected", len(res.Rejections))
	s.render(w, r, rq, http.StatusOK, "published.html", "Published", out)
	return nil
}
