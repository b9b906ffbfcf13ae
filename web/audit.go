package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

// auditQuery is a search of the audit log, newest entry first. Empty
// fields do not filter.
type auditQuery struct {
	Kind   string
	Object string // an id among the entry's subjects
	Actor  string
	// Before: only entries with a lower index (a paging cursor); 0 means
	// from the newest.
	Before uint64
}

var auditKinds = []ledger.Kind{
	ledger.KindObjectIngested, ledger.KindLabelChanged, ledger.KindReleaseDecided, ledger.KindEnvelopeSent,
	ledger.KindEnvelopeReceived, ledger.KindObjectViewed, ledger.KindObjectExported, ledger.KindAgreementChanged,
	ledger.KindConsentGiven, ledger.KindRecallIssued, ledger.KindRecallAcknowledged, ledger.KindKeyRotated,
	ledger.KindAccessChanged,
}

// parseAuditQuery reads an audit search from a query string.
func parseAuditQuery(q url.Values) (auditQuery, error) {
	var out auditQuery
	for _, f := range []struct {
		name string
		to   *string
	}{{"kind", &out.Kind}, {"object", &out.Object}, {"actor", &out.Actor}} {
		v := strings.TrimSpace(q.Get(f.name))
		if len(v) > maxQueryText || strings.ContainsFunc(v, isControl) {
			return out, badInput("%s: at most %d characters of text", f.name, maxQueryText)
		}
		*f.to = v
	}
	if out.Kind != "" && !ledger.Kind(out.Kind).Known() {
		return out, badInput("kind %.40q is not a kind of audit entry; choose one from the list", out.Kind)
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseUint(b, 10, 64)
		if err != nil || strconv.FormatUint(n, 10) != b {
			return out, badInput("before: not an entry number")
		}
		out.Before = n
	}
	return out, nil
}

func (q auditQuery) matches(ev *ledger.Event) bool {
	return (q.Kind == "" || string(ev.Kind) == q.Kind) &&
		(q.Actor == "" || ev.Actor == q.Actor) &&
		(q.Object == "" || slices.Contains(ev.Subjects, q.Object))
}

// Audit search limits: entries per page, and entries read per request
// before the page is cut short with a cursor.
const (
	entriesPerPage = 50
	auditScanLimit = 20000
)

// stixID matches the ids of STIX objects, which an entry names among its
// subjects (partner codes, agreement and key ids never match).
var stixID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// subjectLinks finds, for one request, the objects that audit entries
// name: an entry is shown only if the user may see every object it names
// (marking definitions aside), since the entry tells what happened to
// them, and when.
type subjectLinks struct {
	s  *Server
	rq *request
	cs []tearline.Collection
	// seen maps an object id to the collection the user sees it in, ""
	// when they see it in none.
	seen map[string]string
}

func (s *Server) subjectLinks(ctx context.Context, rq *request) (*subjectLinks, error) {
	cs, err := s.grantedCollections(ctx, rq, false)
	if err != nil {
		return nil, err
	}
	return &subjectLinks{s: s, rq: rq, cs: cs, seen: map[string]string{}}, nil
}

// visible reports whether the user may see every object ev names.
func (sl *subjectLinks) visible(ctx context.Context, ev *ledger.Event) (bool, error) {
	var unknown []string
	for _, sub := range ev.Subjects {
		if !stixID.MatchString(sub) || strings.HasPrefix(sub, "marking-definition--") {
			continue
		}
		if _, ok := sl.seen[sub]; !ok && !slices.Contains(unknown, sub) {
			unknown = append(unknown, sub)
		}
	}
	for start := 0; start < len(unknown); start += 200 {
		chunk := unknown[start:min(start+200, len(unknown))]
		for _, id := range chunk {
			sl.seen[id] = ""
		}
		for _, c := range sl.cs {
			page, err := sl.s.cfg.Objects.Objects(ctx, tearline.ObjectQuery{Collection: c.ID, IDs: chunk})
			if err != nil {
				return false, err
			}
			_, vis, err := sl.s.visibility(sl.rq).filter(ctx, c.ID, page.Objects)
			if err != nil {
				return false, err
			}
			for i, o := range page.Objects {
				if vis[i] && sl.seen[o.ID] == "" {
					sl.seen[o.ID] = collectionRef(c)
				}
			}
		}
	}
	for _, sub := range ev.Subjects {
		if c, checked := sl.seen[sub]; checked && c == "" {
			return false, nil
		}
	}
	return true, nil
}

type subjectView struct {
	ID   string
	Link string // the object's page, when the subject is an object
}

type entryView struct {
	Index    uint64
	Kind     string
	Time     time.Time
	Actor    string
	Subjects []subjectView
	More     int // subjects not listed
	Details  []string
}

func (sl *subjectLinks) view(index uint64, ev *ledger.Event, maxSubjects int) entryView {
	v := entryView{Index: index, Kind: string(ev.Kind), Time: ev.Time, Actor: ev.Actor}
	for i, sub := range ev.Subjects {
		if maxSubjects > 0 && i == maxSubjects {
			v.More = len(ev.Subjects) - i
			break
		}
		sv := subjectView{ID: sub}
		if c := sl.seen[sub]; c != "" {
			sv.Link = Prefix + "/objects/" + url.PathEscape(c) + "/" + url.PathEscape(sub)
		}
		v.Subjects = append(v.Subjects, sv)
	}
	keys := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Details = append(v.Details, k+" = "+ev.Details[k])
	}
	return v
}

type auditData struct {
	Off     bool
	Query   auditQuery
	Kinds   []ledger.Kind
	Size    uint64
	Entries []entryView
	Next    string
	Limited bool
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	q, err := parseAuditQuery(r.URL.Query())
	if err != nil {
		return err
	}
	d := auditData{Query: q, Kinds: auditKinds, Off: s.cfg.Audit == nil}
	if d.Off {
		s.render(w, r, rq, http.StatusOK, "audit.html", "Audit log", d)
		return nil
	}
	ctx := r.Context()
	if d.Size, err = s.cfg.Audit.Size(ctx); err != nil {
		return err
	}
	links, err := s.subjectLinks(ctx, rq)
	if err != nil {
		return err
	}
	i := d.Size
	if q.Before != 0 && q.Before < i {
		i = q.Before
	}
	for scanned := 0; i > 0; scanned++ {
		if scanned == auditScanLimit {
			d.Limited = true
			break
		}
		i--
		data, err := s.cfg.Audit.Entry(ctx, i)
		if err != nil {
			return err
		}
		ev, err := ledger.DecodeEvent(data)
		if err != nil {
			// The log is the node's own; an entry it cannot read is a
			// fault to report, not to skip.
			return err
		}
		if !q.matches(&ev) {
			continue
		}
		ok, err := links.visible(ctx, &ev)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		d.Entries = append(d.Entries, links.view(i, &ev, 4))
		if len(d.Entries) == entriesPerPage {
			break
		}
	}
	if i > 0 && (d.Limited || len(d.Entries) == entriesPerPage) {
		next := url.Values{}
		for k, v := range map[string]string{"kind": q.Kind, "object": q.Object, "actor": q.Actor} {
			if v != "" {
				next.Set(k, v)
			}
		}
		next.Set("before", strconv.FormatUint(i, 10))
		d.Next = Prefix + "/audit?" + next.Encode()
	}
	s.render(w, r, rq, http.StatusOK, "audit.html", "Audit log", d)
	return nil
}

// proofView is what the page's script needs to check an inclusion proof:
// the entry's bytes, its index, the checkpoint's size and root, and the
// path.
type proofView struct {
	Entry          string // base64
	Index, Size    uint64
	Root           string // hex
	Path           []string
	ServerVerified bool
	ServerError    string
}

type entryData struct {
	Entry      entryView
	Raw        string
	Proof      *proofView
	Checkpoint string // the signed checkpoint, as the node published it
	// Pending: the entry is newer than the newest checkpoint.
	Pending      bool
	CheckpointAt uint64
	NoCheckpoint bool
}

// parseIndex reads an entry number as the path writes it: decimal digits,
// no sign, no leading zeros.
func parseIndex(s string) (uint64, bool) {
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && strconv.FormatUint(n, 10) == s
}

func (s *Server) auditEntry(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.cfg.Audit == nil {
		return errNotFound
	}
	ctx := r.Context()
	index, ok := parseIndex(r.PathValue("index"))
	if !ok {
		return errNotFound
	}
	size, err := s.cfg.Audit.Size(ctx)
	if err != nil {
		return err
	}
	if index >= size {
		return errNotFound
	}
	data, err := s.cfg.Audit.Entry(ctx, index)
	if err != nil {
		return err
	}
	ev, err := ledger.DecodeEvent(data)
	if err != nil {
		return err
	}
	links, err := s.subjectLinks(ctx, rq)
	if err != nil {
		return err
	}
	if ok, err := links.visible(ctx, &ev); err != nil || !ok {
		if err == nil {
			err = errNotFound
		}
		return err
	}
	d := entryData{Entry: links.view(index, &ev, 0), Raw: string(data)}
	cp, signed, err := s.cfg.Audit.NewestCheckpoint(ctx)
	switch {
	case errors.Is(err, tearline.ErrNotFound):
		d.NoCheckpoint = true
	case err != nil:
		return err
	case cp.Size <= index:
		d.Pending, d.CheckpointAt, d.Checkpoint = true, cp.Size, string(signed)
	default:
		path, err := s.cfg.Audit.InclusionProof(ctx, index, cp.Size)
		if err != nil {
			return err
		}
		p := &proofView{Entry: base64.StdEncoding.EncodeToString(data), Index: index, Size: cp.Size, Root: hex.EncodeToString(cp.Root[:])}
		for _, h := range path {
			p.Path = append(p.Path, hex.EncodeToString(h))
		}
		if err := ledger.VerifyInclusion(data, index, cp.Size, cp.Root, path); err != nil {
			p.ServerError = err.Error()
		} else {
			p.ServerVerified = true
		}
		d.Proof, d.Checkpoint, d.CheckpointAt = p, string(signed), cp.Size
	}
	s.render(w, r, rq, http.StatusOK, "entry.html", "Audit entry "+strconv.FormatUint(index, 10), d)
	return nil
}
