package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
)

// ObjectPages iterates over the pages of a collection's objects matching
// f, from f's position on. After a page with more set it asks for the next
// one with the page's next value and the same filter, or, from a server
// that gives no next, with added_after set to the page's
// X-TAXII-Date-Added-Last (section 3.5). A server that would make paging
// loop (the same next twice, an added_after that does not advance) or that
// says more without saying where from is an error, which ends the
// iteration.
func (c *Client) ObjectPages(ctx context.Context, root, collection string, f Filter) iter.Seq2[*Envelope, error] {
	return func(yield func(*Envelope, error) bool) {
		seen := map[string]bool{}
		for {
			env, err := c.GetObjects(ctx, root, collection, f)
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(env, nil) || !env.More {
				return
			}
			if err := advance(&f, env, seen); err != nil {
				yield(nil, fmt.Errorf("paging %s collection %s: %w", root, collection, err))
				return
			}
		}
	}
}

// advance moves f past the page env, which said more.
func advance(f *Filter, env *Envelope, seen map[string]bool) error {
	switch {
	case env.Next != "":
		if seen[env.Next] {
			return fmt.Errorf("the server gave the next value %s twice; paging would not end", quote(env.Next))
		}
		seen[env.Next] = true
		f.Next = env.Next
	case !env.DateAddedLast.IsZero():
		if !env.DateAddedLast.After(f.AddedAfter) {
			return errors.New("the server says more but its X-TAXII-Date-Added-Last does not advance past added_after; paging would not end")
		}
		f.AddedAfter, f.Next = env.DateAddedLast, ""
	default:
		return errors.New("the server says more objects follow but gives neither next nor X-TAXII-Date-Added-Last to ask for them")
	}
	return nil
}

// ErrObjectTooLarge is returned by Packer.Add for an object that does not
// fit in an envelope of the maximum size even alone.
var ErrObjectTooLarge = errors.New("object larger than the largest envelope the server accepts")

// envelopeOverhead is the length of `{"objects":[` and `]}`.
const envelopeOverhead = len(`{"objects":[]}`)

// EncodeEnvelope returns the envelope of objects, as AddObjects posts it.
// Each object is copied as it is.
func EncodeEnvelope(objects []json.RawMessage) []byte {
	n := envelopeOverhead
	for _, o := range objects {
		n += len(o) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, `{"objects":[`...)
	for i, o := range objects {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	return append(b, "]}"...)
}

// Packer groups objects, in order, into envelopes whose encoding fits
// MaxBytes (an API root's max_content_length) and holds at most
// MaxObjects objects.
type Packer struct {
	MaxBytes   int64
	MaxObjects int // 0: no limit

	objs []json.RawMessage
	size int64
}

// Add appends obj to the envelope being filled. When obj does not fit,
// the envelope filled so far is returned, complete, and obj starts the
// next one. An object that fits in no envelope is ErrObjectTooLarge and is
// not kept.
func (p *Packer) Add(obj json.RawMessage) ([]json.RawMessage, error) {
	if int64(len(obj))+int64(envelopeOverhead) > p.MaxBytes {
		return nil, fmt.Errorf("%w: %d bytes, and an envelope may have %d", ErrObjectTooLarge, len(obj), p.MaxBytes)
	}
	var full []json.RawMessage
	grown := p.size + int64(len(obj)) + 1
	if len(p.objs) > 0 && (grown+int64(envelopeOverhead)-1 > p.MaxBytes || p.MaxObjects > 0 && len(p.objs) >= p.MaxObjects) {
		full = p.Flush()
		grown = int64(len(obj)) + 1
	}
	p.objs = append(p.objs, obj)
	p.size = grown
	return full, nil
}

// Flush returns the envelope being filled (nil if empty) and starts a new
// one.
func (p *Packer) Flush() []json.RawMessage {
	full := p.objs
	p.objs, p.size = nil, 0
	return full
}

// Len is the number of objects in the envelope being filled.
func (p *Packer) Len() int { return len(p.objs) }
