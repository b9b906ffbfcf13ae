package analytics

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// refIndex is the obviously correct index: a list of what each document
// reports, scanned in full for every query with the match rules written
// out one by one. The fast Index must return exactly what it returns.
type refIndex struct {
	docs map[uint32]refDoc
}

type refDoc struct {
	orig string
	obs  []Observable
}

func (r *refIndex) add(doc uint32, orig string, obs []Observable) {
	var canon []Observable
	for _, o := range obs {
		c, err := Normalise(o.Kind, o.Value)
		if err != nil {
			panic(err)
		}
		if !slices.Contains(canon, c) {
			canon = append(canon, c)
		}
	}
	r.docs[doc] = refDoc{orig, canon}
}

func (r *refIndex) lookup(q Observable, vis Visibility, kinds MatchKind) []Match {
	if kinds == 0 {
		kinds = DefaultMatches
	}
	q, err := Normalise(q.Kind, q.Value)
	if err != nil {
		panic(err)
	}
	var out []Match
	for doc, d := range r.docs {
		if !vis(doc) {
			continue
		}
		for _, s := range d.obs {
			if k := refMatch(q, s) & kinds; k != 0 {
				out = append(out, Match{Doc: doc, Originator: d.orig, Kind: k, Stored: s})
			}
		}
	}
	slices.SortFunc(out, compareMatches)
	return out
}

// refMatch says how stored s matches query q, from the definitions.
func refMatch(q, s Observable) MatchKind {
	if q == s {
		return MatchExact
	}
	if q.Kind != s.Kind {
		return 0
	}
	switch q.Kind {
	case KindIPv4, KindIPv6:
		qp, _ := q.Prefix()
		sp, _ := s.Prefix()
		// Two prefixes overlap exactly when one contains the other.
		if qp.Overlaps(sp) {
			return MatchCIDR
		}
	case KindDomain:
		if strings.HasSuffix(q.Value, "."+s.Value) && strings.Contains(s.Value, ".") {
			return MatchDomainSuffix
		}
		if strings.HasSuffix(s.Value, "."+q.Value) {
			return MatchSubdomain
		}
	}
	return 0
}

// randomObservable draws from a small universe, so that values repeat,
// nest and share parents.
func randomObservable(r *rand.Rand) Observable {
	switch r.IntN(6) {
	case 0:
		a := netip.AddrFrom4([4]byte{10, byte(r.IntN(3)), byte(r.IntN(4)), byte(r.IntN(4))})
		bits := []int{0, 8, 16, 20, 24, 30, 32}[r.IntN(7)]
		return Observable{KindIPv4, netip.PrefixFrom(a, bits).String()}
	case 1:
		b := [16]byte{0x20, 0x01, 0x0d, 0xb8}
		b[5] = byte(r.IntN(3))
		b[15] = byte(r.IntN(3))
		bits := []int{32, 40, 48, 64, 127, 128}[r.IntN(6)]
		return Observable{KindIPv6, netip.PrefixFrom(netip.AddrFrom16(b), bits).String()}
	case 2:
		labels := []string{"a", "b", "c"}
		n := 1 + r.IntN(4)
		parts := []string{[]string{"com", "org"}[r.IntN(2)]}
		for range n - 1 {
			parts = append([]string{labels[r.IntN(3)]}, parts...)
		}
		return Observable{KindDomain, strings.Join(parts, ".")}
	case 3:
		return Observable{KindMD5, strings.Repeat(string("0123"[r.IntN(4)]), 32)}
	case 4:
		return Observable{KindURL, fmt.Sprintf("http://%c.example/%d", 'a'+r.IntN(3), r.IntN(3))}
	default:
		return Observable{KindFileName, fmt.Sprintf("f%d.exe", r.IntN(4))}
	}
}

func TestIndexAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	partners := []string{"GBR", "USA", "FRA", "DEU", "CAN"}
	for round := range 20 {
		ix := New()
		ref := &refIndex{docs: map[uint32]refDoc{}}
		for step := range 300 {
			doc := uint32(r.IntN(60))
			if _, ok := ref.docs[doc]; ok {
				if !ix.Remove(doc) {
					t.Fatalf("round %d step %d: Remove(%d) = false; want true", round, step, doc)
				}
				delete(ref.docs, doc)
			} else {
				var os []Observable
				for range r.IntN(6) {
					os = append(os, randomObservable(r))
				}
				orig := partners[r.IntN(len(partners))]
				if err := ix.Add(doc, orig, os); err != nil {
					t.Fatalf("round %d step %d: Add(%d, %v) = %v", round, step, doc, os, err)
				}
				ref.add(doc, orig, os)
			}
			if step%10 != 0 {
				continue
			}
			vis := NewDocSet()
			for d := range uint32(60) {
				if r.IntN(4) != 0 {
					vis.Add(d)
				}
			}
			for range 20 {
				q := randomObservable(r)
				kinds := MatchKind(r.IntN(16))
				got, err := ix.Lookup(nil, q, vis.Has, kinds)
				if err != nil {
					t.Fatal(err)
				}
				want := ref.lookup(q, vis.Has, kinds)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("round %d step %d: Lookup(%v, %v) = %v; want %v", round, step, q, kinds, got, want)
				}
			}
		}
		// Everything removed: every structure must be empty again.
		for doc := range ref.docs {
			ix.Remove(doc)
		}
		if s := ix.Stats(); s.Documents != 0 || s.Observables != 0 || s.Postings != 0 || s.TrieNodes != 0 || s.DomainNodes != 0 {
			t.Fatalf("round %d: Stats() after removing every document = %+v; want empty structures", round, s)
		}
		if len(ix.exact) != 0 || len(ix.domains.byName) != 0 || ix.v4.root != 0 || ix.v6.root != 0 {
			t.Fatalf("round %d: index structures not empty after removing every document", round)
		}
	}
}

// TestTrieShape checks the trie's invariants directly: keys masked, every
// node without a value joins exactly two subtrees, children extend their
// parent's prefix on the side they hang from.
func TestTrieShape(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var tr trie
	live := map[netip.Prefix]uint32{}
	for i := range 5000 {
		o := randomObservable(r)
		if o.Kind != KindIPv4 {
			continue
		}
		p, _ := o.Prefix()
		p = p.Masked()
		key, n := prefixKey(p)
		if _, ok := live[p]; ok {
			tr.remove(key, n)
			delete(live, p)
		} else {
			tr.insert(key, n, uint32(i+1))
			live[p] = uint32(i + 1)
		}
		checkTrie(t, &tr, tr.root, 0, u128{}, -1)
		for p, v := range live {
			key, n := prefixKey(p)
			if got := tr.find(key, n); got != v {
				t.Fatalf("find(%v) = %d; want %d", p, got, v)
			}
		}
		if tr.size() > 2*len(live) {
			t.Fatalf("trie holds %d nodes for %d prefixes; want at most 2n", tr.size(), len(live))
		}
	}
}

func checkTrie(t *testing.T, tr *trie, id uint32, parentBits uint8, parentKey u128, side int) {
	t.Helper()
	if id == 0 {
		return
	}
	nd := tr.nodes[id]
	if nd.key != nd.key.mask(nd.bits) {
		t.Fatalf("node %d key not masked to /%d", id, nd.bits)
	}
	if side >= 0 {
		if nd.bits <= parentBits || commonBits(nd.key, parentKey) < parentBits || nd.key.bit(parentBits) != side {
			t.Fatalf("node %d /%d does not extend its parent /%d on side %d", id, nd.bits, parentBits, side)
		}
	}
	if nd.val == 0 && (nd.child[0] == 0 || nd.child[1] == 0) {
		t.Fatalf("node %d holds no value and does not join two subtrees", id)
	}
	checkTrie(t, tr, nd.child[0], nd.bits, nd.key, 0)
	checkTrie(t, tr, nd.child[1], nd.bits, nd.key, 1)
}
