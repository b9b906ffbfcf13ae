package ingest

import (
	"context"
	"errors"
	"fmt"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/stix"
)

// markingSource finds marking definitions stored before this input.
type markingSource interface {
	Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error)
}

// labelReader reads each object's label from its markings, in input order,
// so that a marking definition earlier in the input (or already stored)
// labels the objects that refer to it. An object whose markings conflict is
// rejected with the label rule it breaks. An object that refers to a
// marking definition the node does not have is kept: its label cannot be
// read, so no release decision will allow it until the definition arrives.
type labelReader struct {
	defs       label.Definitions
	source     markingSource // nil when the store cannot be asked
	collection string
	looked     map[string]bool // marking ids already looked up in the store
	classify   func(*tearline.Object, *stix.Value, tearline.Label) ([]byte, error)
	// labels holds the label read for each list of marking refs since the
	// definitions last changed: the objects of one input mostly share
	// their markings, and a label depends on nothing else (FromObject).
	labels map[string]tearline.Label
}

func newLabelReader(store Store, collection string) *labelReader {
	r := &labelReader{defs: label.Definitions{}, collection: collection, looked: map[string]bool{},
		labels: map[string]tearline.Label{}}
	if src, ok := store.(markingSource); ok {
		r.source = src
	}
	return r
}

// check reads it's label and turns a conflict into a rejection.
func (r *labelReader) check(ctx context.Context, it *item) {
	v := it.value
	it.value = nil
	if it.obj == nil || v == nil {
		return
	}
	if it.obj.Type == "marking-definition" {
		if err := r.defs.Add(it.obj.JSON); err != nil {
			r.reject(it, "$", err)
		}
		clear(r.labels)
		return
	}
	var l tearline.Label
	if refs, ok := v.Get("object_marking_refs"); ok {
		if err := r.lookUp(ctx, refs); err != nil {
			// The label cannot be read without the stored definitions; the
			// object is reported rather than stored unreadable.
			r.reject(it, "$.object_marking_refs", fmt.Errorf("looking up its marking definitions: %w", err))
			return
		}
		key, cacheable := refsKey(refs)
		var err error
		if cached, ok := r.labels[key]; ok && cacheable {
			l = cached.Clone()
		} else if l, err = label.FromObject(v, r.defs); err == nil && cacheable {
			r.labels[key] = l.Clone()
		}
		if err != nil {
			var re *label.RuleError
			if !errors.As(err, &re) || re.Rule != "unknown-marking-definition" {
				r.reject(it, "$.object_marking_refs", err)
				return
			}
			// Kept with the zero label, which nothing is released under,
			// until the definition arrives and the object is classified
			// again.
			l = tearline.Label{}
		}
	}
	if r.classify != nil {
		class, err := r.classify(it.obj, v, l)
		if err != nil {
			r.reject(it, "$", err)
			return
		}
		it.obj.ReleaseClass = class
	}
}

// lookUp adds to defs the referenced marking definitions that the store
// holds, asking the store once per id.
func (r *labelReader) lookUp(ctx context.Context, refs *stix.Value) error {
	if r.source == nil {
		return nil
	}
	var ids []string
	for _, ref := range refs.Arr {
		if ref.Kind != stix.String || r.looked[ref.Str] {
			continue
		}
		if _, have := r.defs.MarkingDefinition(ref.Str); have {
			continue
		}
		if label.Builtin(ref.Str) {
			continue
		}
		r.looked[ref.Str] = true
		ids = append(ids, ref.Str)
	}
	if len(ids) == 0 {
		return nil
	}
	page, err := r.source.Objects(ctx, tearline.ObjectQuery{Collection: r.collection, IDs: ids, Types: []string{"marking-definition"}})
	if err != nil {
		for _, id := range ids {
			delete(r.looked, id) // ask again for the next object
		}
		return err
	}
	for _, o := range page.Objects {
		if err := r.defs.Add(o.JSON); err != nil {
			return fmt.Errorf("stored marking definition %s: %w", o.ID, err)
		}
		clear(r.labels)
	}
	return nil
}

// refsKey is the key of a list of marking refs in labelReader.labels;
// false when the list is not one of strings, whose label is not kept.
func refsKey(refs *stix.Value) (string, bool) {
	if refs.Kind != stix.Array || len(refs.Arr) > 64 {
		return "", false
	}
	n := 0
	for _, ref := range refs.Arr {
		if ref.Kind != stix.String {
			return "", false
		}
		n += len(ref.Str) + 1
	}
	b := make([]byte, 0, n)
	for _, ref := range refs.Arr {
		b = append(append(b, ref.Str...), 0)
	}
	return string(b), true
}

func (r *labelReader) reject(it *item, path string, err error) {
	rule := "label"
	var re *label.RuleError
	if errors.As(err, &re) {
		rule = re.Rule
	}
	it.err = &stix.ObjectError{Index: it.index, ID: it.obj.ID, Problems: []stix.Problem{{
		Rule: rule, Path: path, Msg: fmt.Sprintf("the object's markings cannot make a label: %v", err),
	}}}
	it.obj = nil
}
