package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/stix"
)

// ReleaseRequest is a consent request as the console shows it. Tearline
// is the id of the sanitised variant an approval with a tearline covers
// instead of the object asked about; empty otherwise. Expires is when the
// consent an approval gave lapses; zero when it has no end date or the
// request is not approved.
type ReleaseRequest struct {
	mailbox.Request
	Tearline string
	Expires  time.Time
}

// consentTerm is a term the console offers for a consent.
type consentTerm struct {
	Value string // the form value: days, or "" for no end date
	Label string
	Holds time.Duration // zero: no end date
}

// consentTerms are the terms a releaser may give a consent. Without one
// (the first), the consent has no end date and holds until the object is
// recalled.
var consentTerms = []consentTerm{{"", "with no end date", 0}, {"7", "for 7 days", 7 * day}, {"30", "for 30 days", 30 * day},
	{"90", "for 90 days", 90 * day}, {"365", "for a year", 365 * day}}

const day = 24 * time.Hour

// readConsentTerm reads the form's "holds": how long the consent given
// holds (zero: no end date).
func readConsentTerm(r *http.Request) (time.Duration, error) {
	v := r.PostForm.Get("holds")
	for _, t := range consentTerms {
		if v == t.Value {
			return t.Holds, nil
		}
	}
	offered := make([]string, 0, len(consentTerms)-1)
	for _, t := range consentTerms[1:] {
		offered = append(offered, t.Value)
	}
	return 0, badInput("The consent's term is not one the console offers: leave it out for no end date, or give %s days.", strings.Join(offered, ", "))
}

// Requests is the node's side of the consent workflow (the third-party
// rule): requests partners sent it as an object's originator (the inbox)
// and those it sent as a holder (the outbox), and the releaser's answers.
// The node implements it on federation.Workflow: every answer is signed
// with the node's key, kept with its audit entry and delivered to the
// partner.
type Requests interface {
	// Collection is the id of the collection holding the objects the
	// requests are about, where tearlines are published.
	Collection() string
	// Requests returns the requests of box, oldest first.
	Requests(ctx context.Context, box mailbox.RequestBox) ([]ReleaseRequest, error)
	// Request returns request id of box, or an error wrapping
	// tearline.ErrNotFound.
	Request(ctx context.Context, box mailbox.RequestBox, id string) (ReleaseRequest, error)
	// Ask asks the originator of object, which the node holds, for
	// consent to pass it to recipient. Here and below, actor is the
	// signed-in user, the actor of the audit entries.
	Ask(ctx context.Context, actor, object, recipient, note string) (ReleaseRequest, error)
	// Approve approves inbox request id with a consent that holds for
	// holds (no end date when zero), or delivers its answer again.
	Approve(ctx context.Context, actor, id string, holds time.Duration) (ReleaseRequest, error)
	// ApproveTearline approves inbox request id with a consent for the
	// version of variant, a tearline the node published, instead of the
	// object asked about.
	ApproveTearline(ctx context.Context, actor, id, variant string, version time.Time, holds time.Duration) (ReleaseRequest, error)
	// Deny denies inbox request id, for reason.
	Deny(ctx context.Context, actor, id, reason string) (ReleaseRequest, error)
}

// Limits of what a releaser writes: a denial's reason and a request's
// note (as federation.MaxNote), and a tearline.
const (
	maxReason   = 1024
	maxTearline = 256 << 10
	// maxDiffLines bounds each side of a tearline's line diff.
	maxDiffLines = 2000
)

// inRequestsCollection reports whether c is the collection the
// requests are about, which the node may name by id or alias.
func (s *Server) inRequestsCollection(c tearline.Collection) bool {
	name := s.cfg.Requests.Collection()
	return name != "" && (c.ID == name || c.Alias == name)
}

// mayDecide reports whether the user may answer requests: releasers and
// administrators.
func mayDecide(u *tearline.User) bool {
	return u.Has(tearline.RoleReleaser) || u.Has(tearline.RoleAdmin)
}

// visibleIDs returns which of ids the user may see, in the requests'
// collection: the newest version of each, decided as its object page
// decides. A user without a read grant on the collection sees none.
func (s *Server) visibleIDs(ctx context.Context, rq *request, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	c, err := s.collectionFor(ctx, rq, s.cfg.Requests.Collection(), false)
	if errors.Is(err, tearline.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	objs, err := s.visibleIn(ctx, rq, c, ids)
	if err != nil {
		return nil, err
	}
	for id := range objs {
		out[id] = true
	}
	return out, nil
}

// requestRow is a request as the inbox and outbox list it.
type requestRow struct {
	ReleaseRequest
	Collection   string // for links to the objects
	Name         string // the object's name, when it has one
	TearlineName string
}

type requestsData struct {
	Off       bool
	MayDecide bool
	Inbox     []requestRow
	Outbox    []requestRow
	// Done says what the last action did.
	Done string
	// Failed says what went wrong in it, when something did.
	Failed string
}

// visibleRequests returns the requests of box about objects the user may
// see, pending first (then oldest first). A request about an object, or
// with a tearline, the user may not see is left out without a trace.
func (s *Server) visibleRequests(ctx context.Context, rq *request, box mailbox.RequestBox) ([]requestRow, error) {
	rs, err := s.cfg.Requests.Requests(ctx, box)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.Object)
		if r.Tearline != "" {
			ids = append(ids, r.Tearline)
		}
	}
	visible, err := s.visibleIDs(ctx, rq, ids)
	if err != nil {
		return nil, err
	}
	names, err := s.objectNames(ctx, visible)
	if err != nil {
		return nil, err
	}
	var out []requestRow
	for _, r := range rs {
		if !visible[r.Object] || r.Tearline != "" && !visible[r.Tearline] {
			continue
		}
		out = append(out, requestRow{ReleaseRequest: r, Collection: s.cfg.Requests.Collection(), Name: names[r.Object], TearlineName: names[r.Tearline]})
	}
	slices.SortStableFunc(out, func(a, b requestRow) int {
		ap, bp := a.State == mailbox.RequestPending, b.State == mailbox.RequestPending
		switch {
		case ap && !bp:
			return -1
		case bp && !ap:
			return 1
		}
		return 0
	})
	return out, nil
}

// objectNames returns the names of the objects in ids (all of which the
// caller has found visible).
func (s *Server) objectNames(ctx context.Context, ids map[string]bool) (map[string]string, error) {
	out := map[string]string{}
	if len(ids) == 0 {
		return out, nil
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	slices.Sort(list)
	page, err := s.cfg.Objects.Objects(ctx, tearline.ObjectQuery{Collection: s.cfg.Requests.Collection(), IDs: list})
	if err != nil {
		return nil, err
	}
	for _, o := range page.Objects {
		if n := nameOf(o.JSON); n != "" {
			out[o.ID] = n
		}
	}
	return out, nil
}

// pendingInbox counts the pending inbox requests the user may see, for
// the dashboard; -1 when the node keeps no requests.
func (s *Server) pendingInbox(ctx context.Context, rq *request) (int, error) {
	if s.cfg.Requests == nil {
		return -1, nil
	}
	rows, err := s.visibleRequests(ctx, rq, mailbox.RequestInbox)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rows {
		if r.State == mailbox.RequestPending {
			n++
		}
	}
	return n, nil
}

func (s *Server) requestsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	return s.renderRequests(w, r, rq, http.StatusOK, "", "")
}

func (s *Server) renderRequests(w http.ResponseWriter, r *http.Request, rq *request, status int, done, failed string) error {
	d := requestsData{Off: s.cfg.Requests == nil, MayDecide: mayDecide(&rq.user), Done: done, Failed: failed}
	if !d.Off {
		var err error
		if d.Inbox, err = s.visibleRequests(r.Context(), rq, mailbox.RequestInbox); err != nil {
			return err
		}
		if d.Outbox, err = s.visibleRequests(r.Context(), rq, mailbox.RequestOutbox); err != nil {
			return err
		}
	}
	s.render(w, r, rq, status, "requests.html", "Release requests", d)
	return nil
}

// decidable returns inbox request id for a user who may answer it: a
// releaser or administrator, who may see the object it is about. Anyone
// else gets errNotFound, as for a request that does not exist.
func (s *Server) decidable(ctx context.Context, rq *request, id string) (ReleaseRequest, error) {
	if s.cfg.Requests == nil || len(id) > 300 || !utf8.ValidString(id) {
		return ReleaseRequest{}, errNotFound
	}
	req, err := s.cfg.Requests.Request(ctx, mailbox.RequestInbox, id)
	if err != nil {
		return req, err
	}
	ids := []string{req.Object}
	if req.Tearline != "" {
		ids = append(ids, req.Tearline)
	}
	visible, err := s.visibleIDs(ctx, rq, ids)
	if err != nil {
		return req, err
	}
	for _, id := range ids {
		if !visible[id] {
			return ReleaseRequest{}, errNotFound
		}
	}
	if !mayDecide(&rq.user) {
		return ReleaseRequest{}, errMayNotDecide
	}
	return req, nil
}

// errMayNotDecide: an analyst tried to answer a request.
var errMayNotDecide = &userError{msg: "Only a releaser or an administrator of this node may answer release requests."}

// answered shows the inbox after an answer: what was done, or what the
// workflow refused (a request already decided, an object no longer
// releasable) or could not deliver, which the releaser can act on.
func (s *Server) answered(w http.ResponseWriter, r *http.Request, rq *request, req ReleaseRequest, what string, err error) error {
	s.cfg.Logger.Info("console: release request answered", "user", rq.user.Name, "request", req.ID, "answer", what, "err", err)
	if errors.Is(err, mailbox.ErrRequestDecided) {
		return s.renderRequests(w, r, rq, http.StatusConflict, "", fmt.Sprintf("Request %s was not %s: it is %s already.", req.ID, what, req.State))
	}
	if err != nil {
		if req.State == mailbox.RequestPending || req.State == "" {
			return s.renderRequests(w, r, rq, http.StatusConflict, "", fmt.Sprintf("Request %s was not %s: %v", req.ID, what, err))
		}
		return s.renderRequests(w, r, rq, http.StatusOK, fmt.Sprintf("Request %s %s.", req.ID, req.State),
			fmt.Sprintf("The answer is kept and signed, but was not delivered: %v. The node delivers it again every 30 seconds; deliver it again now below.", err))
	}
	return s.renderRequests(w, r, rq, http.StatusOK, fmt.Sprintf("Request %s %s; %s has the answer.", req.ID, req.State, req.Requester), "")
}

func (s *Server) approveRequest(w http.ResponseWriter, r *http.Request, rq *request) error {
	req, err := s.decidable(r.Context(), rq, r.PathValue("id"))
	if err != nil {
		return err
	}
	holds, err := readConsentTerm(r)
	if err != nil {
		return err
	}
	out, err := s.cfg.Requests.Approve(r.Context(), rq.user.Name, req.ID, holds)
	if out.ID == "" {
		out = req
	}
	return s.answered(w, r, rq, out, "approved", err)
}

func (s *Server) denyRequest(w http.ResponseWriter, r *http.Request, rq *request) error {
	req, err := s.decidable(r.Context(), rq, r.PathValue("id"))
	if err != nil {
		return err
	}
	reason := strings.TrimSpace(r.PostForm.Get("reason"))
	switch {
	case reason == "" && req.State == mailbox.RequestPending:
		return badInput("Give the reason for the denial: %s reads it.", req.Requester)
	case len(reason) > maxReason || !utf8.ValidString(reason) || strings.ContainsRune(reason, 0):
		return badInput("The reason must be at most %d bytes of text.", maxReason)
	}
	out, err := s.cfg.Requests.Deny(r.Context(), rq.user.Name, req.ID, reason)
	if out.ID == "" {
		out = req
	}
	return s.answered(w, r, rq, out, "denied", err)
}

// askRelease asks the originator of an object the node holds, and the
// user may see, for consent to pass it on (the object page's form).
func (s *Server) askRelease(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.cfg.Requests == nil {
		return errNotFound
	}
	ctx := r.Context()
	c, obj, _, err := s.visibleObject(ctx, rq, r.PathValue("collection"), r.PathValue("id"))
	if err != nil {
		return err
	}
	if !s.inRequestsCollection(c) {
		return badInput("Onward release is asked for objects of the node's federated collection only.")
	}
	to := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("recipient")))
	if !slices.Contains(s.cfg.Decider.Partners(rq.now), to) {
		return badInput("Choose the partner to pass the object to from the list.")
	}
	note := strings.TrimSpace(r.PostForm.Get("note"))
	if len(note) > maxReason || !utf8.ValidString(note) || strings.ContainsFunc(note, isControl) {
		return badInput("The note must be at most %d bytes of text on one line.", maxReason)
	}
	req, err := s.cfg.Requests.Ask(ctx, rq.user.Name, obj.ID, to, note)
	s.cfg.Logger.Info("console: onward release requested", "user", rq.user.Name, "object", obj.ID, "to", to, "request", req.ID, "err", err)
	if err != nil && req.ID == "" {
		return badInput("The request could not be made: %v", err)
	}
	failed := ""
	if err != nil {
		failed = fmt.Sprintf("The request is kept in the outbox, but did not reach %s: %v", req.Originator, err)
	}
	return s.renderRequests(w, r, rq, http.StatusOK, fmt.Sprintf("Request %s asks %s to let this node pass %s to %s.", req.ID, req.Originator, obj.ID, to), failed)
}

// The tearline editor: a releaser writes a sanitised variant of the
// object a request is about, sees it line by line against the original
// and who would receive it under the label picked, and on confirmation
// the variant is published as an object of this node, linked to the
// original by a derived-from relationship, and the request approved with
// a consent for the variant.

type diffLine struct {
	Op   string // " ", "-" or "+"
	Text string
}

type tearlineData struct {
	Request    ReleaseRequest
	Collection string
	Name       string
	Original   string
	Content    string
	Options    labelOptions
	Chosen     chosenLabel
	Banner     string
	LabelError *ruleView
	Problems   []string
	Diff       []diffLine
	Added      int
	Removed    int
	Preview    *previewData
	// Holder and Recipient are the decisions that matter for the request.
	Holder, Recipient *previewRow
	// RecipientNote explains a recipient the node does not decide for.
	RecipientNote string
	Blocked       []string
	// Holds is the consent's term chosen (a consentTerms value), kept
	// across previews.
	Holds string
}

// tearlineBase is the original as the variant starts from: indented, with
// its markings removed (the label picked replaces them).
func tearlineBase(original []byte) (string, *stix.Value, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(original, &m); err != nil {
		return "", nil, err
	}
	delete(m, "object_marking_refs")
	delete(m, "granular_markings")
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", nil, err
	}
	_, v, err := stix.Parse(bytes.Clone(b))
	return string(b), v, err
}

// freshVariant is the editor's first draft: the original under a new id
// of its type, created now.
func freshVariant(original []byte, now time.Time) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(original, &m); err != nil {
		return "", err
	}
	delete(m, "object_marking_refs")
	delete(m, "granular_markings")
	var typ string
	if err := json.Unmarshal(m["type"], &typ); err != nil || !stixType.MatchString(typ) {
		return "", fmt.Errorf("the original has no STIX type")
	}
	id, err := newSTIXID(typ)
	if err != nil {
		return "", err
	}
	stamp, _ := json.Marshal(now.UTC().Format("2006-01-02T15:04:05.000Z"))
	idJSON, _ := json.Marshal(id)
	m["id"], m["created"], m["modified"] = idJSON, stamp, stamp
	b, err := json.MarshalIndent(m, "", "  ")
	return string(b), err
}

func newSTIXID(typ string) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s--%x-%x-%x-%x-%x", typ, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// tearlineSource returns the request and its original, for a user who
// may answer it, with the editor's data started.
func (s *Server) tearlineSource(ctx context.Context, rq *request, id string) (*tearlineData, *tearline.StoredObject, error) {
	req, err := s.decidable(ctx, rq, id)
	if err != nil {
		return nil, nil, err
	}
	if req.State != mailbox.RequestPending {
		return nil, nil, badInput("Request %s is %s already; a tearline answers a pending request.", req.ID, req.State)
	}
	if s.cfg.Publisher == nil {
		return nil, nil, badInput("This node does not publish from the console, so it cannot publish a tearline.")
	}
	if _, err := s.collectionFor(ctx, rq, s.cfg.Requests.Collection(), true); err != nil {
		if errors.Is(err, tearline.ErrNotFound) {
			return nil, nil, badInput("You may not write to the collection the tearline is published in; an administrator grants it with 'tearline collection grant'.")
		}
		return nil, nil, err
	}
	_, obj, _, err := s.visibleObject(ctx, rq, s.cfg.Requests.Collection(), req.Object)
	if err != nil {
		return nil, nil, err
	}
	base, _, err := tearlineBase(obj.JSON)
	if err != nil {
		return nil, nil, fmt.Errorf("tearline of %s: %w", obj.ID, err)
	}
	d := &tearlineData{Request: req, Collection: s.cfg.Requests.Collection(), Name: nameOf(obj.JSON), Original: base, Options: s.labelOptions(rq),
		Chosen: chosenLabel{RelTo: map[string]bool{}, Display: map[string]bool{}, Handling: map[string]bool{}}}
	return d, obj, nil
}

func (s *Server) tearlinePage(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, obj, err := s.tearlineSource(r.Context(), rq, r.PathValue("id"))
	if err != nil {
		return err
	}
	if d.Content, err = freshVariant(obj.JSON, rq.now); err != nil {
		return fmt.Errorf("tearline of %s: %w", obj.ID, err)
	}
	if _, ok := label.LookupScheme(s.cfg.Node.Partner); ok {
		d.Chosen.Policy = s.cfg.Node.Partner
	}
	s.render(w, r, rq, http.StatusOK, "tearline.html", "Approve with a tearline", d)
	return nil
}

// readTearline reads the editor's form: the variant and its label, checks
// them and computes the diff and the release preview. ok is false when
// the page must be shown again with what is wrong.
func (s *Server) readTearline(ctx context.Context, r *http.Request, rq *request) (d *tearlineData, variant *pasted, l tearline.Label, ok bool, err error) {
	d, obj, err := s.tearlineSource(ctx, rq, r.PathValue("id"))
	if err != nil {
		return nil, nil, l, false, err
	}
	// Browsers send a textarea's lines ended by CR LF.
	d.Content = strings.ReplaceAll(r.PostForm.Get("stix"), "\r\n", "\n")
	if _, err := readConsentTerm(r); err == nil {
		d.Holds = r.PostForm.Get("holds")
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
	if len(d.Content) > maxTearline {
		d.Problems = append(d.Problems, fmt.Sprintf("The tearline holds %d bytes; at most %d KiB.", len(d.Content), maxTearline>>10))
		return d, nil, l, false, nil
	}
	objs, problems := parsePaste([]byte(d.Content))
	d.Problems = append(d.Problems, problems...)
	switch {
	case len(problems) > 0:
	case len(objs) != 1:
		d.Problems = append(d.Problems, fmt.Sprintf("A tearline is one object; the text holds %d.", len(objs)))
	case objs[0].ID == obj.ID:
		d.Problems = append(d.Problems, "The tearline is an object of its own: give it an id other than the original's.")
	default:
		variant = &objs[0]
		held, err := s.cfg.Objects.Objects(ctx, tearline.ObjectQuery{Collection: s.cfg.Requests.Collection(), IDs: []string{variant.ID}, Limit: 1})
		if err != nil {
			return nil, nil, l, false, err
		}
		if len(held.Objects) > 0 {
			d.Problems = append(d.Problems, fmt.Sprintf("This node holds an object with the id %s already: give the tearline a new id.", variant.ID))
		}
	}
	if d.Diff, d.Added, d.Removed, err = lineDiff(d.Original, d.Content); err != nil {
		d.Problems = append(d.Problems, err.Error())
	}
	if d.LabelError != nil || len(d.Problems) > 0 {
		return d, nil, l, false, nil
	}
	d.Preview = s.releasePreview(rq, []pasted{*variant}, l)
	s.judgeTearline(d, variant, l, rq)
	d.Preview.Digest = s.previewDigest(rq, s.cfg.Requests.Collection(), d.Banner, []byte(d.Request.ID+"\n"+d.Content))
	return d, variant, l, len(d.Blocked) == 0, nil
}

// judgeTearline finds the decisions for the request's holder and
// recipient, and what keeps the tearline from answering the request: the
// holder must receive it from this node, and the recipient, when this
// node decides for it, must be allowed it with the consent the approval
// gives.
func (s *Server) judgeTearline(d *tearlineData, variant *pasted, l tearline.Label, rq *request) {
	req := d.Request
	for _, rows := range [][]previewRow{d.Preview.Receive, d.Preview.Withheld} {
		for i := range rows {
			if rows[i].Partner == req.Requester && rows[i].Objects == nil {
				d.Holder = &rows[i]
			}
		}
	}
	if d.Holder == nil || d.Holder.Outcome != tearline.Allow {
		d.Blocked = append(d.Blocked, fmt.Sprintf("%s, the holder that asked, would not receive the tearline under this label: pick one releasable to %s.", req.Requester, req.Requester))
	}
	if !slices.Contains(s.cfg.Decider.Partners(rq.now), req.Recipient) {
		d.RecipientNote = fmt.Sprintf("This node shares no agreement in force with %s: %s's agreement with %s decides, with the consent this approval gives.", req.Recipient, req.Requester, req.Recipient)
		return
	}
	sub := s.cfg.Decider.NewSubject(variant.obj, variant.v, l)
	sub.Consents = append(slices.Clone(sub.Consents), policy.Consent{Originator: s.cfg.Node.Partner, Recipient: req.Recipient, Object: variant.ID})
	dec := s.cfg.Decider.Decide(&policy.Request{Subject: sub, Recipient: s.cfg.Decider.Recipient(req.Recipient, rq.now), Action: tearline.Release, Time: rq.now})
	d.Recipient = &previewRow{Partner: req.Recipient, Outcome: dec.Outcome, Agreement: dec.Agreement, Variant: dec.Variant,
		Consent: strings.Join(dec.ConsentFrom, ", "), Reasons: dec.Reasons}
	if dec.Outcome != tearline.Allow && dec.Outcome != tearline.AllowVariant {
		d.Blocked = append(d.Blocked, fmt.Sprintf("%s, the recipient, may not have the tearline under this label even with this node's consent: pick one releasable to %s.", req.Recipient, req.Recipient))
	}
}

func (s *Server) tearlinePreview(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, _, _, ok, err := s.readTearline(r.Context(), r, rq)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusUnprocessableEntity
	}
	s.render(w, r, rq, status, "tearline.html", "Approve with a tearline: preview", d)
	return nil
}

// tearlineApprove publishes the previewed tearline, with a derived-from
// relationship from it to the original under the same label, through the
// node's one publishing path, then approves the request with a consent
// for the tearline.
func (s *Server) tearlineApprove(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	d, variant, l, ok, err := s.readTearline(ctx, r, rq)
	if err != nil {
		return err
	}
	if !ok {
		s.render(w, r, rq, http.StatusUnprocessableEntity, "tearline.html", "Approve with a tearline", d)
		return nil
	}
	holds, err := readConsentTerm(r)
	if err != nil {
		return err
	}
	coll := s.cfg.Requests.Collection()
	if !equalSecret(r.PostForm.Get("digest"), s.previewDigest(rq, coll, d.Banner, []byte(d.Request.ID+"\n"+d.Content))) {
		d.Problems = []string{"The tearline or its label changed since the preview, or there was none: preview again before approving."}
		d.Preview = nil
		s.render(w, r, rq, http.StatusConflict, "tearline.html", "Approve with a tearline", d)
		return nil
	}
	rel, err := derivedFrom(variant.ID, d.Request.Object, rq.now)
	if err != nil {
		return err
	}
	content := append(append(bytes.TrimSpace(variant.obj.JSON), '\n'), rel...)
	res, err := s.cfg.Publisher.Publish(ctx, Publication{Collection: coll, Content: content, Label: l, Actor: rq.user.Name})
	if err != nil {
		return err
	}
	if len(res.Rejections) > 0 {
		var msgs []string
		for _, rej := range res.Rejections {
			msgs = append(msgs, rej.Message)
		}
		d.Problems = append([]string{"The node refused the tearline; nothing was approved:"}, msgs...)
		d.Preview = nil
		s.render(w, r, rq, http.StatusUnprocessableEntity, "tearline.html", "Approve with a tearline", d)
		return nil
	}
	out, err := s.cfg.Requests.ApproveTearline(ctx, rq.user.Name, d.Request.ID, variant.ID, variant.obj.Version, holds)
	if out.ID == "" {
		out = d.Request
	}
	if err != nil && out.State == mailbox.RequestPending {
		err = fmt.Errorf("the tearline %s is published, but the approval failed: %w", variant.ID, err)
	}
	return s.answered(w, r, rq, out, "approved with the tearline "+variant.ID, err)
}

// derivedFrom is the relationship that links a tearline to its original.
func derivedFrom(variant, original string, now time.Time) ([]byte, error) {
	id, err := newSTIXID("relationship")
	if err != nil {
		return nil, err
	}
	stamp := now.UTC().Format("2006-01-02T15:04:05.000Z")
	return json.Marshal(map[string]string{"type": "relationship", "spec_version": "2.1", "id": id, "created": stamp, "modified": stamp,
		"relationship_type": "derived-from", "source_ref": variant, "target_ref": original,
		"description": "tearline: a sanitised variant released in place of the original"})
}

// lineDiff compares a and b line by line (longest common subsequence)
// and returns the lines with their operation, and how many were added and
// removed.
func lineDiff(a, b string) ([]diffLine, int, int, error) {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(al) > maxDiffLines || len(bl) > maxDiffLines {
		return nil, 0, 0, fmt.Errorf("the tearline is too long to compare line by line with the original (at most %d lines each)", maxDiffLines)
	}
	n, m := len(al), len(bl)
	// lcs[i][j] is the length of the longest common subsequence of
	// al[i:] and bl[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if al[i] == bl[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []diffLine
	added, removed := 0, 0
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && al[i] == bl[j]:
			out = append(out, diffLine{Op: " ", Text: al[i]})
			i++
			j++
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			out = append(out, diffLine{Op: "-", Text: al[i]})
			removed++
			i++
		default:
			out = append(out, diffLine{Op: "+", Text: bl[j]})
			added++
			j++
		}
	}
	return out, added, removed, nil
}
