package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/internal/jsonscan"
	"github.com/tearline/tearline/internal/sized"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/stix"
)

var errNotEnvelope = &Error{Status: http.StatusUnprocessableEntity, Title: "Unprocessable envelope",
	Description: `the body must be a TAXII envelope: a JSON object with an "objects" list of STIX objects`}

// postObjects adds an envelope's objects to the collection through
// ingest.Stream and answers with a status resource.
//
// The body is read whole (bounded by max_content_length as it streams in)
// and checked to be an envelope before anything is written, so that a
// request refused with 400, 413 or 422 has stored nothing. Objects are then
// written in one store batch: all per-object outcomes are final (status
// "complete") when the response is sent.
func (h *Handler) postObjects(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if !taxiiContentType(r.Header.Get("Content-Type")) {
		h.writeError(w, r, errUnsupportedMedia)
		return
	}
	v, err := h.openCollection(r)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	if !v.access.Write {
		h.writeError(w, r, errNoWrite)
		return
	}
	if r.ContentLength > h.cfg.MaxContentLength {
		h.writeError(w, r, errTooLarge)
		return
	}
	requested := h.now()
	body, err := sized.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxContentLength), r.ContentLength, h.cfg.MaxContentLength)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.writeError(w, r, errTooLarge)
			return
		}
		h.writeError(w, r, &Error{Status: http.StatusBadRequest, Title: "Bad request",
			Description: "the request body could not be read", Err: err})
		return
	}
	elems, err := parseEnvelope(body)
	if err != nil {
		h.writeError(w, r, err)
		return
	}

	// A banner labels the objects that carry no markings of their own,
	// as `tearline import --banner` does. Its marking definitions are
	// stored first, so that the envelope's objects find them.
	var marks []string
	banner := r.Header.Get(BannerHeader)
	if banner == "" && h.cfg.DefaultBanner != nil {
		if banner, err = h.cfg.DefaultBanner(ctx, v.c.ID); err != nil {
			h.writeError(w, r, fmt.Errorf("default label of %s: %w", v.c.ID, err))
			return
		}
	}
	if banner != "" {
		if marks, err = h.storeBanner(ctx, v.c.ID, banner); err != nil {
			h.writeError(w, r, err)
			return
		}
	}

	st := Status{
		ID: newUUID(), Status: "complete", RequestTimestamp: requested,
		TotalCount: len(elems), Owner: v.p, Collection: v.c.ID,
	}
	rec := &recorder{store: h.store}
	failed := map[int]ingest.Rejection{}
	var mu sync.Mutex
	elements := make([][]byte, len(elems))
	for i, e := range elems {
		elements[i] = e
	}
	_, err = ingest.Stream(ctx, rec, nil, ingest.Options{
		Collection: v.c.ID,
		Elements:   elements,
		// One batch: the whole envelope is stored in one transaction.
		BatchSize: max(len(elems), 1),
		Markings:  marks,
		Classify:  h.cfg.Classify,
		Reject: func(rej ingest.Rejection) {
			mu.Lock()
			failed[rej.Index] = rej
			mu.Unlock()
		},
	})
	if err != nil {
		h.writeError(w, r, fmt.Errorf("ingest into %s: %w", v.c.ID, err))
		return
	}
	succeeded, err := rec.successes(ctx, v.c.ID)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	st.Successes = succeeded
	for i, raw := range elems {
		rej, ok := failed[i]
		if !ok {
			continue
		}
		id, version := identify(raw)
		if id == "" {
			id = rej.ID
		}
		st.Failures = append(st.Failures, StatusDetail{ID: id, Version: version, Message: failureMessage(i, raw, rej)})
	}
	st.SuccessCount, st.FailureCount = len(st.Successes), len(st.Failures)
	if st.SuccessCount+st.FailureCount != st.TotalCount {
		h.writeError(w, r, fmt.Errorf("ingest into %s accounted for %d of %d objects", v.c.ID, st.SuccessCount+st.FailureCount, st.TotalCount))
		return
	}
	if err := h.cfg.Statuses.Put(ctx, st); err != nil {
		h.writeError(w, r, fmt.Errorf("keep status: %w", err))
		return
	}
	h.writeStatus(w, r, http.StatusAccepted, st)
}

// BannerHeader carries a banner ("SECRET//REL TO USA, GBR", "TLP:AMBER")
// that labels the posted objects that carry no markings of their own. It
// is Tearline's extension to TAXII; a request without it is plain TAXII.
const BannerHeader = "X-Tearline-Banner"

// storeBanner parses a banner, stores its marking definitions in the
// collection and returns their ids. A banner that does not parse, or
// breaks a labelling rule, is a 400 that names the rule.
func (h *Handler) storeBanner(ctx context.Context, collection, banner string) ([]string, error) {
	l, err := label.Parse(banner)
	if err == nil {
		var defs [][]byte
		var refs []string
		if defs, refs, err = label.ToMarkings(l); err == nil {
			var rejected []string
			sum, serr := ingest.Stream(ctx, h.store, bytes.NewReader(bytes.Join(defs, []byte("\n"))), ingest.Options{
				Collection: collection, BatchSize: max(len(defs), 1),
				Reject: func(rej ingest.Rejection) { rejected = append(rejected, rej.Error()) },
			})
			switch {
			case serr != nil:
				return nil, fmt.Errorf("store the banner's marking definitions: %w", serr)
			case sum.Rejected > 0:
				return nil, fmt.Errorf("the banner's marking definitions were refused: %s", strings.Join(rejected, "; "))
			}
			return refs, nil
		}
	}
	return nil, &Error{Status: http.StatusBadRequest, Title: "Invalid banner",
		Description: fmt.Sprintf("the %s header %q is not a valid label: %v", BannerHeader, banner, err)}
}

// parseEnvelope returns the elements of an envelope's objects list, as
// slices of body. Invalid JSON is a 400; JSON that is not an envelope is a
// 422. It reads the body once (jsonscan) and decides as encoding/json
// would reading it into struct{Objects *[]json.RawMessage} (FuzzEnvelope
// holds it to that): keys matched without regard to case, the last of a
// repeated key winning, and a list missing, null or of another type (even
// once, before a list) not an envelope.
func parseEnvelope(body []byte) ([]json.RawMessage, error) {
	s := jsonscan.New(body)
	s.WS()
	var (
		objs     []json.RawMessage
		found    bool
		mistyped bool
	)
	member := func(key []byte) error {
		name, err := jsonscan.Unquote(key)
		if err != nil || !strings.EqualFold(name, "objects") {
			return s.Value()
		}
		c, _ := s.Peek()
		if c != '[' {
			objs, found, mistyped = nil, false, mistyped || c != 'n'
			return s.Value()
		}
		objs, found = objs[:0], true
		return s.Array(func(raw []byte) { objs = append(objs, raw) })
	}
	var err error
	if c, _ := s.Peek(); c == '{' {
		err = s.Object(member)
	} else {
		err = s.Value()
		mistyped = true
	}
	if err == nil {
		err = s.End()
	}
	switch {
	case err != nil:
		return nil, badRequest("the request body is not valid JSON: " + err.Error())
	case !found || mistyped:
		return nil, errNotEnvelope
	}
	if objs == nil {
		objs = []json.RawMessage{}
	}
	return objs, nil
}

// failureMessage says what was wrong with objects[i] and where, in terms of
// the caller's envelope (not of the stream ingest read).
func failureMessage(i int, raw json.RawMessage, rej ingest.Rejection) string {
	var oe *stix.ObjectError
	switch {
	case len(bytes.TrimSpace(raw)) == 0 || bytes.TrimSpace(raw)[0] != '{':
		return fmt.Sprintf("objects[%d] is not a JSON object", i)
	case rej.Rule == "object-too-large":
		return fmt.Sprintf("objects[%d] is larger than the per-object size limit", i)
	case errors.As(rej.Err, &oe):
		var b strings.Builder
		fmt.Fprintf(&b, "objects[%d]: ", i)
		for k, p := range oe.Problems {
			if k > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s: %s [%s]", p.Path, p.Msg, p.Rule)
		}
		return b.String()
	}
	return fmt.Sprintf("objects[%d] was not stored", i)
}

// identify reads an element's id and version (modified, else created) for
// its status entry, as far as they can be read.
func identify(raw json.RawMessage) (id, version string) {
	var o struct {
		ID       any `json:"id"`
		Modified any `json:"modified"`
		Created  any `json:"created"`
	}
	if json.Unmarshal(raw, &o) != nil {
		return "", ""
	}
	str := func(v any) string { s, _ := v.(string); return s }
	id, version = str(o.ID), str(o.Modified)
	if version == "" {
		version = str(o.Created)
	}
	if t, _, err := stix.ParseTimestamp(version); err == nil {
		version = timestamp(t)
	}
	return id, version
}

// recorder is the store ingest writes through: it keeps every object and
// its result, so that successes can be reported with their versions.
type recorder struct {
	store tearline.ObjectStore

	mu      sync.Mutex
	objs    []*tearline.Object
	results []tearline.PutResult
}

// Objects lets ingest read the marking definitions already stored, so that
// posted objects referring to them are labelled (and checked) by them.
func (r *recorder) Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error) {
	return r.store.Objects(ctx, q)
}

func (r *recorder) PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	res, err := r.store.PutObjects(ctx, collection, objs)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.objs = append(r.objs, objs...)
	r.results = append(r.results, res...)
	r.mu.Unlock()
	return res, nil
}

// successes lists the objects added or already present (an exact duplicate
// is a success). An unversioned object already present is versioned by the
// DateAdded of the stored copy, which is looked up.
func (r *recorder) successes(ctx context.Context, collection string) ([]StatusDetail, error) {
	var out []StatusDetail
	for i, o := range r.objs {
		res := r.results[i]
		var version time.Time
		switch {
		case res.Status == tearline.Conflict, res.Status == tearline.Recalled:
			continue // failures, reported through ingest's rejections
		case o.Versioned():
			version = o.Version
		case res.Status == tearline.Added:
			version = res.DateAdded
		default:
			pg, err := r.store.Objects(ctx, tearline.ObjectQuery{Collection: collection, IDs: []string{o.ID}, Version: tearline.VersionFilter{All: true}})
			if err != nil {
				return nil, fmt.Errorf("look up stored %s: %w", o.ID, err)
			}
			for _, s := range pg.Objects {
				if s.Hash == o.Hash {
					version = s.DateAdded
					break
				}
			}
		}
		d := StatusDetail{ID: o.ID}
		if !version.IsZero() {
			d.Version = timestamp(version)
		}
		out = append(out, d)
	}
	return out, nil
}
