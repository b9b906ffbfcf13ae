package analytics

import "errors"

// Visibility says whether the viewer of a query may see a document. Every
// count, match, corroboration and score this package returns is computed
// over the documents it accepts, and over nothing else.
//
// The Index calls it while holding its read lock: it MUST NOT call the
// Index's Add or Remove, and it should be cheap, since it runs once per
// posting a query reaches. Package policy decides what a viewer may see;
// a DocSet holds the answer for a batch of queries.
type Visibility func(doc uint32) bool

// ErrNoVisibility is returned by queries given a nil Visibility: the
// package refuses to guess what the viewer may see.
var ErrNoVisibility = errors.New("analytics: query without a visibility; pass the viewer's Visibility (see DocSet)")

// DocSet is a set of document numbers as a bitset, a compact Visibility
// for a viewer: DocSet.Has is a Visibility. It suits the small, dense
// document numbers the index is designed for; its size is the largest
// number added divided by 8 bytes. The zero DocSet is empty and ready to
// use.
type DocSet struct {
	words []uint64
}

// NewDocSet returns a set holding docs.
func NewDocSet(docs ...uint32) *DocSet {
	s := &DocSet{}
	for _, d := range docs {
		s.Add(d)
	}
	return s
}

// Add puts doc in the set.
func (s *DocSet) Add(doc uint32) {
	w := int(doc >> 6)
	if w >= len(s.words) {
		s.words = append(s.words, make([]uint64, w+1-len(s.words))...)
	}
	s.words[w] |= 1 << (doc & 63)
}

// Remove takes doc out of the set.
func (s *DocSet) Remove(doc uint32) {
	if w := int(doc >> 6); w < len(s.words) {
		s.words[w] &^= 1 << (doc & 63)
	}
}

// Has reports whether doc is in the set.
func (s *DocSet) Has(doc uint32) bool {
	w := int(doc >> 6)
	return w < len(s.words) && s.words[w]&(1<<(doc&63)) != 0
}
