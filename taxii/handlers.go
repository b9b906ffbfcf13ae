package taxii

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// writeJSON writes v as the response body. Object JSON is sent byte for
// byte as stored: no HTML escaping.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		h.writeError(w, r, fmt.Errorf("encode response: %w", err))
		return
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

type discoveryResource struct {
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Contact     string   `json:"contact,omitempty"`
	Default     string   `json:"default,omitempty"`
	APIRoots    []string `json:"api_roots,omitempty"`
}

func (h *Handler) rootURL() string {
	return strings.TrimSuffix(h.cfg.BaseURL, "/") + "/" + h.root + "/"
}

func (h *Handler) getDiscovery(w http.ResponseWriter, r *http.Request) {
	u := h.rootURL()
	h.writeJSON(w, r, http.StatusOK, discoveryResource{
		Title: h.cfg.Title, Description: h.cfg.Description, Contact: h.cfg.Contact,
		Default: u, APIRoots: []string{u},
	})
}

type apiRootResource struct {
	Title            string   `json:"title"`
	Description      string   `json:"description,omitempty"`
	Versions         []string `json:"versions"`
	MaxContentLength int64    `json:"max_content_length"`
}

func (h *Handler) getAPIRoot(w http.ResponseWriter, r *http.Request) {
	h.writeJSON(w, r, http.StatusOK, apiRootResource{
		Title: h.cfg.Title, Description: h.cfg.Description,
		Versions: []string{MediaType}, MaxContentLength: h.cfg.MaxContentLength,
	})
}

type collectionResource struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`
	Alias       string   `json:"alias,omitempty"`
	CanRead     bool     `json:"can_read"`
	CanWrite    bool     `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

func collectionOf(c tearline.Collection, a Access) collectionResource {
	title := c.Title
	if title == "" {
		title = c.Alias
	}
	return collectionResource{ID: c.ID, Title: title, Description: c.Description, Alias: c.Alias,
		CanRead: a.Read, CanWrite: a.Write, MediaTypes: []string{StixMediaType}}
}

func (h *Handler) getCollections(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principal(ctx)
	all, err := h.store.Collections(ctx)
	if err != nil {
		h.writeError(w, r, fmt.Errorf("list collections: %w", err))
		return
	}
	var out struct {
		Collections []collectionResource `json:"collections,omitempty"`
	}
	for _, c := range all {
		a, err := h.cfg.Authorizer.Access(ctx, p, c)
		if err != nil {
			h.writeError(w, r, fmt.Errorf("authorize %s %q on collection %s: %w", p.Kind, p.ID, c.ID, err))
			return
		}
		if a.Read || a.Write {
			out.Collections = append(out.Collections, collectionOf(c, a))
		}
	}
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *Handler) getCollection(w http.ResponseWriter, r *http.Request) {
	v, err := h.openCollection(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, collectionOf(v.c, v.access))
}

// listing is one page of a GET over object versions.
type listing struct {
	objs []tearline.StoredObject
	more bool
	next string
}

// list runs a paged GET: it checks read access, parses the filter for the
// endpoint, verifies the cursor and collects the page. objectID, if set,
// restricts the listing to one object; defaultVF applies when the request
// has no match[version].
func (h *Handler) list(r *http.Request, endpoint string, allowed params, objectID string, defaultVF tearline.VersionFilter) (*view, listing, error) {
	ctx := r.Context()
	v, err := h.openCollection(r)
	if err != nil {
		return nil, listing{}, err
	}
	if !v.access.Read {
		return nil, listing{}, errNoRead
	}
	f, err := parseFilter(r.URL.RawQuery, allowed)
	if err != nil {
		return nil, listing{}, err
	}
	if objectID != "" {
		if !validID(objectID) {
			return nil, listing{}, errNoObject
		}
		f.ids = []string{objectID}
	}
	scope := cursorScope(endpoint, v.c.ID, objectID, v.p, f)
	var after time.Time
	if f.next != "" {
		if after, err = h.cursor.decode(f.next, scope); err != nil {
			return nil, listing{}, err
		}
	}
	limit := h.cfg.MaxPageSize
	if f.limit > 0 && f.limit < limit {
		limit = f.limit
	}
	vf := f.version
	if vf.IsZero() {
		vf = defaultVF
	}
	objs, more, resume, err := v.page(ctx, f, vf, after, limit)
	if err != nil {
		return nil, listing{}, err
	}
	l := listing{objs: objs, more: more}
	if more {
		l.next = h.cursor.encode(resume, scope)
	}
	if objectID != "" && len(objs) == 0 && f.next == "" {
		ok, err := v.exists(ctx, objectID)
		if err != nil {
			return nil, listing{}, err
		}
		if !ok {
			return nil, listing{}, errNoObject
		}
	}
	return v, l, nil
}

func setDateHeaders(w http.ResponseWriter, objs []tearline.StoredObject) {
	if len(objs) == 0 {
		return
	}
	w.Header().Set("X-TAXII-Date-Added-First", timestamp(objs[0].DateAdded))
	w.Header().Set("X-TAXII-Date-Added-Last", timestamp(objs[len(objs)-1].DateAdded))
}

func (h *Handler) writeEnvelope(w http.ResponseWriter, r *http.Request, l listing) {
	// Written by hand: the objects are stored compact, and encoding/json
	// would scan every one of them again to compact it.
	size := 64 + len(l.next)
	for _, o := range l.objs {
		size += len(o.JSON) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, `{"more":`...)
	b = strconv.AppendBool(b, l.more)
	if l.next != "" {
		b = append(b, `,"next":`...)
		b = strconv.AppendQuote(b, l.next)
	}
	if len(l.objs) > 0 {
		b = append(b, `,"objects":[`...)
		for i, o := range l.objs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, o.JSON...)
		}
		b = append(b, ']')
	}
	b = append(b, "}\n"...)
	setDateHeaders(w, l.objs)
	w.Header().Set("Content-Type", MediaType)
	// The length is known: the client can read the page into one buffer.
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(b)
	}
}

var lastVersion = tearline.VersionFilter{Last: true}

func (h *Handler) getObjects(w http.ResponseWriter, r *http.Request) {
	v, l, err := h.list(r, "objects", listParams, "", lastVersion)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeEnvelope(w, r, l)
	h.served(r, v, l)
}

func (h *Handler) getObject(w http.ResponseWriter, r *http.Request) {
	v, l, err := h.list(r, "object", objectParams, r.PathValue("object"), lastVersion)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	h.writeEnvelope(w, r, l)
	h.served(r, v, l)
}

// served tells the audit what content the caller was given.
func (h *Handler) served(r *http.Request, v *view, l listing) {
	if h.cfg.Audit != nil && len(l.objs) > 0 {
		h.cfg.Audit.Served(r.Context(), v.p, v.c, l.objs)
	}
}

type manifestRecord struct {
	ID        string `json:"id"`
	DateAdded string `json:"date_added"`
	Version   string `json:"version"`
	MediaType string `json:"media_type,omitempty"`
}

func (h *Handler) getManifest(w http.ResponseWriter, r *http.Request) {
	_, l, err := h.list(r, "manifest", listParams, "", lastVersion)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var out struct {
		More    bool             `json:"more"`
		Next    string           `json:"next,omitempty"`
		Objects []manifestRecord `json:"objects,omitempty"`
	}
	out.More, out.Next = l.more, l.next
	for _, o := range l.objs {
		out.Objects = append(out.Objects, manifestRecord{
			ID: o.ID, DateAdded: timestamp(o.DateAdded), Version: timestamp(o.EffectiveVersion()),
			MediaType: "application/stix+json;version=" + o.SpecVersion,
		})
	}
	setDateHeaders(w, l.objs)
	h.writeJSON(w, r, http.StatusOK, out)
}

func (h *Handler) getVersions(w http.ResponseWriter, r *http.Request) {
	_, l, err := h.list(r, "versions", versionParams, r.PathValue("object"), tearline.VersionFilter{All: true})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	var out struct {
		More     bool     `json:"more"`
		Next     string   `json:"next,omitempty"`
		Versions []string `json:"versions,omitempty"`
	}
	out.More, out.Next = l.more, l.next
	for _, o := range l.objs {
		out.Versions = append(out.Versions, timestamp(o.EffectiveVersion()))
	}
	setDateHeaders(w, l.objs)
	h.writeJSON(w, r, http.StatusOK, out)
}

// deleteObject removes the versions of one object that the caller can see
// and the filter selects (every version by default). Versions it cannot see
// are left alone and never reported.
func (h *Handler) deleteObject(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, err := h.openCollection(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	id := r.PathValue("object")
	if !v.access.Read {
		h.writeError(w, r, errNoRead)
		return
	}
	if !v.access.Write {
		h.writeError(w, r, errNoWrite)
		return
	}
	f, err := parseFilter(r.URL.RawQuery, deleteParams)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !validID(id) {
		h.writeError(w, r, errNoObject)
		return
	}
	vf := f.version
	if vf.IsZero() {
		vf = tearline.VersionFilter{All: true}
	}
	f.ids = []string{id}
	all, err := v.allVersions(ctx, tearline.ObjectQuery{IDs: f.ids, SpecVersions: f.specVersions})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	doomed, err := v.selectVersions(ctx, all, vf)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if len(doomed) == 0 {
		h.writeError(w, r, errNoObject)
		return
	}
	var exact []time.Time
	for _, o := range doomed {
		exact = append(exact, o.EffectiveVersion())
	}
	// Versions are unique per object id within a collection, so naming
	// the visible ones exactly deletes nothing the caller cannot see.
	if _, err := h.store.DeleteObjects(ctx, tearline.ObjectQuery{
		Collection: v.c.ID, IDs: f.ids, Version: tearline.VersionFilter{Exact: exact},
	}); err != nil {
		h.writeError(w, r, fmt.Errorf("delete %s: %w", id, err))
		return
	}
	if h.cfg.Audit != nil {
		if err := h.cfg.Audit.Deleted(ctx, v.p, v.c, doomed); err != nil {
			h.writeError(w, r, fmt.Errorf("record the deletion of %s: %w", id, err))
			return
		}
	}
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(http.StatusOK)
}

func (h *Handler) getStatus(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := principal(ctx)
	s, err := h.cfg.Statuses.Get(ctx, r.PathValue("status"))
	// Anonymous callers are indistinguishable from one another, so none
	// may read a status after the POST that returned it.
	if errors.Is(err, tearline.ErrNotFound) || err == nil && (s.Owner != p || p.Kind == Anonymous) {
		h.writeError(w, r, errNoStatus)
		return
	}
	if err != nil {
		h.writeError(w, r, fmt.Errorf("get status: %w", err))
		return
	}
	h.writeStatus(w, r, http.StatusOK, s)
}

type statusResource struct {
	Status
	RequestTimestamp string `json:"request_timestamp,omitempty"`
}

func (h *Handler) writeStatus(w http.ResponseWriter, r *http.Request, code int, s Status) {
	out := statusResource{Status: s}
	if !s.RequestTimestamp.IsZero() {
		out.RequestTimestamp = timestamp(s.RequestTimestamp)
	}
	h.writeJSON(w, r, code, out)
}
