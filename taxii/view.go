package taxii

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/tearline/tearline"
)

// view is one caller's view of one collection: the versions Visibility
// releases to it, and nothing else.
type view struct {
	h      *Handler
	p      Principal
	c      tearline.Collection
	access Access
	// seen remembers, for this request, what Visibility answered per
	// version (by DateAdded, unique in the node): selecting first and last
	// versions asks again about versions a page already decided.
	seen map[int64]bool
}

// openCollection resolves the {coll} path value for the caller. A
// collection it has no access to is errNoCollection, like a missing one.
func (h *Handler) openCollection(r *http.Request) (*view, error) {
	ctx := r.Context()
	p := principal(ctx)
	c, err := h.store.Collection(ctx, r.PathValue("coll"))
	if errors.Is(err, tearline.ErrNotFound) {
		return nil, errNoCollection
	}
	if err != nil {
		return nil, fmt.Errorf("look up collection: %w", err)
	}
	a, err := h.cfg.Authorizer.Access(ctx, p, c)
	if err != nil {
		return nil, fmt.Errorf("authorize %s %q on collection %s: %w", p.Kind, p.ID, c.ID, err)
	}
	if !a.Read && !a.Write {
		return nil, errNoCollection
	}
	return &view{h: h, p: p, c: c, access: a}, nil
}

// visible keeps the versions the caller may see, in order. Versions
// already decided in this request are not asked again.
func (v *view) visible(ctx context.Context, objs []tearline.StoredObject) ([]tearline.StoredObject, error) {
	if len(objs) == 0 {
		return nil, nil
	}
	if v.seen == nil {
		v.seen = make(map[int64]bool, len(objs))
	}
	// Usually none was decided yet: objs is asked about as it is, not
	// copied (a page is a thousand versions).
	ask := objs
	if len(v.seen) > 0 {
		ask = make([]tearline.StoredObject, 0, len(objs))
		for i := range objs {
			if _, ok := v.seen[objs[i].DateAdded.UnixMicro()]; !ok {
				ask = append(ask, objs[i])
			}
		}
	}
	if len(ask) > 0 {
		mask, err := v.h.cfg.Visibility.Visible(ctx, v.p, v.c, ask)
		if err != nil {
			return nil, fmt.Errorf("visibility for %s %q: %w", v.p.Kind, v.p.ID, err)
		}
		if len(mask) != len(ask) {
			return nil, fmt.Errorf("visibility for %s %q answered %d decisions for %d objects", v.p.Kind, v.p.ID, len(mask), len(ask))
		}
		all := len(ask) == len(objs)
		for i, ok := range mask {
			v.seen[ask[i].DateAdded.UnixMicro()] = ok
			all = all && ok
		}
		if all {
			return objs, nil
		}
	}
	out := make([]tearline.StoredObject, 0, len(objs))
	for i := range objs {
		if v.seen[objs[i].DateAdded.UnixMicro()] {
			out = append(out, objs[i])
		}
	}
	return out, nil
}

// scanBudget bounds the versions one page may scan to fill itself; past it
// the page ends early with more set, resuming after the scanned versions.
func scanBudget(limit int) int { return max(20*limit, 20000) }

// page returns up to limit visible versions matching f added after after,
// in DateAdded order. more reports that further visible versions may
// follow; resume is then where the next page starts.
//
// first and last are decided among the versions the caller can see, so a
// hidden newer version does not hide the older one a caller may see, nor
// reveal itself by doing so. The store is therefore asked for every version
// and the page is over-fetched until it is full or the store is exhausted.
func (v *view) page(ctx context.Context, f filter, vf tearline.VersionFilter, after time.Time, limit int) (objs []tearline.StoredObject, more bool, resume time.Time, err error) {
	q := tearline.ObjectQuery{
		Collection: v.c.ID, IDs: f.ids, Types: f.types, SpecVersions: f.specVersions,
		AddedAfter: f.addedAfter, After: after,
	}
	selectFL := !vf.All && (vf.First || vf.Last)
	if vf.All || selectFL {
		q.Version = tearline.VersionFilter{All: true}
	} else {
		q.Version = vf
	}
	// A version that is its id's only one is its first and last for
	// every caller: the store marks them, and selectVersions looks up the
	// other versions of the rest alone.
	q.MarkSole = selectFL
	// One more than the page holds, so that a page whose versions are all
	// visible knows whether another follows without a second query.
	q.Limit = max(limit+1, 100)
	scanned, budget := 0, scanBudget(limit)
	for {
		pg, err := v.h.store.Objects(ctx, q)
		if err != nil {
			return nil, false, time.Time{}, fmt.Errorf("query objects: %w", err)
		}
		vis, err := v.visible(ctx, pg.Objects)
		if err != nil {
			return nil, false, time.Time{}, err
		}
		if selectFL {
			if vis, err = v.selectVersions(ctx, vis, vf); err != nil {
				return nil, false, time.Time{}, err
			}
		}
		for _, o := range vis {
			if len(objs) == limit {
				return objs, true, objs[limit-1].DateAdded, nil
			}
			objs = append(objs, o)
		}
		if !pg.More || len(pg.Objects) == 0 {
			return objs, false, time.Time{}, nil
		}
		last := pg.Objects[len(pg.Objects)-1].DateAdded
		scanned += len(pg.Objects)
		if scanned >= budget {
			return objs, true, last, nil
		}
		q.After = last
	}
}

// selectVersions keeps the candidates that vf selects, with first and last
// taken over each object's versions visible to the caller. A candidate
// marked sole is its object's only version, first and last.
func (v *view) selectVersions(ctx context.Context, cands []tearline.StoredObject, vf tearline.VersionFilter) ([]tearline.StoredObject, error) {
	if len(cands) == 0 {
		return nil, nil
	}
	var ids []string
	seen := make(map[string]bool, len(cands))
	for _, o := range cands {
		if !o.Sole && !seen[o.ID] {
			seen[o.ID] = true
			ids = append(ids, o.ID)
		}
	}
	type span struct{ first, last time.Time }
	spans := map[string]span{}
	for chunk := range slices.Chunk(ids, maxFilterValues) {
		all, err := v.allVersions(ctx, tearline.ObjectQuery{IDs: chunk})
		if err != nil {
			return nil, err
		}
		for _, o := range all {
			ev := o.EffectiveVersion()
			s, ok := spans[o.ID]
			if !ok {
				s = span{ev, ev}
			}
			if ev.Before(s.first) {
				s.first = ev
			}
			if ev.After(s.last) {
				s.last = ev
			}
			spans[o.ID] = s
		}
	}
	out := cands[:0:0]
	for _, o := range cands {
		ev := o.EffectiveVersion()
		s, ok := spans[o.ID]
		if o.Sole {
			s, ok = span{ev, ev}, true
		}
		keep := vf.All ||
			slices.ContainsFunc(vf.Exact, ev.Equal) ||
			ok && (vf.First && ev.Equal(s.first) || vf.Last && ev.Equal(s.last))
		if keep {
			out = append(out, o)
		}
	}
	return out, nil
}

// allVersions returns every visible version matching q (whose Collection
// and Version are set here), reading the store page by page.
func (v *view) allVersions(ctx context.Context, q tearline.ObjectQuery) ([]tearline.StoredObject, error) {
	q.Collection = v.c.ID
	if q.Version.IsZero() {
		q.Version = tearline.VersionFilter{All: true}
	}
	q.Limit = 1000
	var out []tearline.StoredObject
	for {
		pg, err := v.h.store.Objects(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("query object versions: %w", err)
		}
		vis, err := v.visible(ctx, pg.Objects)
		if err != nil {
			return nil, err
		}
		out = append(out, vis...)
		if !pg.More || len(pg.Objects) == 0 {
			return out, nil
		}
		q.After = pg.Objects[len(pg.Objects)-1].DateAdded
	}
}

// exists reports whether the caller can see any version of object id.
func (v *view) exists(ctx context.Context, id string) (bool, error) {
	objs, _, _, err := v.page(ctx, filter{ids: []string{id}}, tearline.VersionFilter{All: true}, time.Time{}, 1)
	return len(objs) > 0, err
}
