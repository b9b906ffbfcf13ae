package analytics

import (
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"github.com/tearline/tearline"
)

func all(uint32) bool { return true }

func obs(k Kind, v string) Observable { return Observable{Kind: k, Value: v} }

// exampleIndex holds the documents the table tests below query.
func exampleIndex(t *testing.T) *Index {
	t.Helper()
	ix := New()
	docs := []struct {
		doc  uint32
		orig string
		obs  []Observable
	}{
		{1, "GBR", []Observable{obs(KindIPv4, "198.51.100.7"), obs(KindDomain, "example.com")}},
		{2, "USA", []Observable{obs(KindIPv4, "198.51.100.0/24"), obs(KindDomain, "a.b.example.com")}},
		{3, "USA", []Observable{obs(KindIPv4, "198.51.0.0/16"), obs(KindSHA256, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")}},
		{4, "FRA", []Observable{obs(KindIPv4, "10.0.0.0/8"), obs(KindDomain, "com"), obs(KindIPv6, "2001:db8::/32")}},
		{5, "DEU", []Observable{obs(KindIPv6, "2001:db8::1"), obs(KindURL, "http://a.b.example.com/x"), obs(KindDomain, "a.b.example.com")}},
	}
	for _, d := range docs {
		if err := ix.Add(d.doc, d.orig, d.obs); err != nil {
			t.Fatalf("Add(%d) = %v", d.doc, err)
		}
	}
	return ix
}

func TestLookup(t *testing.T) {
	ix := exampleIndex(t)
	sha := obs(KindSHA256, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	tests := []struct {
		name  string
		q     Observable
		kinds MatchKind
		want  []Match
	}{
		{"address in three prefixes", obs(KindIPv4, "198.51.100.7"), 0, []Match{
			{1, "GBR", MatchExact, obs(KindIPv4, "198.51.100.7/32")},
			{2, "USA", MatchCIDR, obs(KindIPv4, "198.51.100.0/24")},
			{3, "USA", MatchCIDR, obs(KindIPv4, "198.51.0.0/16")},
		}},
		{"address exact only", obs(KindIPv4, "198.51.100.7"), MatchExact, []Match{
			{1, "GBR", MatchExact, obs(KindIPv4, "198.51.100.7/32")},
		}},
		{"cidr only", obs(KindIPv4, "198.51.100.7"), MatchCIDR, []Match{
			{2, "USA", MatchCIDR, obs(KindIPv4, "198.51.100.0/24")},
			{3, "USA", MatchCIDR, obs(KindIPv4, "198.51.0.0/16")},
		}},
		{"prefix finds what it contains and what contains it", obs(KindIPv4, "198.51.100.0/25"), 0, []Match{
			{1, "GBR", MatchCIDR, obs(KindIPv4, "198.51.100.7/32")},
			{2, "USA", MatchCIDR, obs(KindIPv4, "198.51.100.0/24")},
			{3, "USA", MatchCIDR, obs(KindIPv4, "198.51.0.0/16")},
		}},
		{"exact prefix", obs(KindIPv4, "198.51.100.0/24"), 0, []Match{
			{1, "GBR", MatchCIDR, obs(KindIPv4, "198.51.100.7/32")},
			{2, "USA", MatchExact, obs(KindIPv4, "198.51.100.0/24")},
			{3, "USA", MatchCIDR, obs(KindIPv4, "198.51.0.0/16")},
		}},
		{"the whole space", obs(KindIPv4, "0.0.0.0/0"), 0, []Match{
			{1, "GBR", MatchCIDR, obs(KindIPv4, "198.51.100.7/32")},
			{2, "USA", MatchCIDR, obs(KindIPv4, "198.51.100.0/24")},
			{3, "USA", MatchCIDR, obs(KindIPv4, "198.51.0.0/16")},
			{4, "FRA", MatchCIDR, obs(KindIPv4, "10.0.0.0/8")},
		}},
		{"no match", obs(KindIPv4, "203.0.113.1"), 0, nil},
		{"ipv6", obs(KindIPv6, "2001:db8::1"), 0, []Match{
			{4, "FRA", MatchCIDR, obs(KindIPv6, "2001:db8::/32")},
			{5, "DEU", MatchExact, obs(KindIPv6, "2001:db8::1/128")},
		}},
		{"mapped address searches ipv4", obs(KindIPv6, "::ffff:10.1.2.3"), 0, []Match{
			{4, "FRA", MatchCIDR, obs(KindIPv4, "10.0.0.0/8")},
		}},
		{"families do not mix", obs(KindIPv6, "::a00:1"), 0, nil},
		{"sighting under a reported domain", obs(KindDomain, "x.a.b.example.com"), 0, []Match{
			{1, "GBR", MatchDomainSuffix, obs(KindDomain, "example.com")},
			{2, "USA", MatchDomainSuffix, obs(KindDomain, "a.b.example.com")},
			{5, "DEU", MatchDomainSuffix, obs(KindDomain, "a.b.example.com")},
		}},
		{"exact domain and its parent", obs(KindDomain, "A.B.Example.com."), 0, []Match{
			{1, "GBR", MatchDomainSuffix, obs(KindDomain, "example.com")},
			{2, "USA", MatchExact, obs(KindDomain, "a.b.example.com")},
			{5, "DEU", MatchExact, obs(KindDomain, "a.b.example.com")},
		}},
		{"parent does not match children unless asked", obs(KindDomain, "example.com"), 0, []Match{
			{1, "GBR", MatchExact, obs(KindDomain, "example.com")},
		}},
		{"children when asked", obs(KindDomain, "b.example.com"), DefaultMatches | MatchSubdomain, []Match{
			{1, "GBR", MatchDomainSuffix, obs(KindDomain, "example.com")},
			{2, "USA", MatchSubdomain, obs(KindDomain, "a.b.example.com")},
			{5, "DEU", MatchSubdomain, obs(KindDomain, "a.b.example.com")},
		}},
		{"a stored top-level domain matches only exactly", obs(KindDomain, "other.com"), 0, nil},
		{"top-level domain exactly", obs(KindDomain, "com"), MatchExact, []Match{
			{4, "FRA", MatchExact, obs(KindDomain, "com")},
		}},
		{"hash", sha, 0, []Match{{3, "USA", MatchExact, sha}}},
		{"hash in upper case", obs(KindSHA256, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 0, []Match{{3, "USA", MatchExact, sha}}},
		{"url", obs(KindURL, "HTTP://A.B.EXAMPLE.COM:80/x#f"), 0, []Match{{5, "DEU", MatchExact, obs(KindURL, "http://a.b.example.com/x")}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ix.Lookup(nil, tt.q, all, tt.kinds)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Lookup(%v, %v) = %v, %v; want %v", tt.q, tt.kinds, got, err, tt.want)
			}
		})
	}
}

func TestCorrelateCorroboration(t *testing.T) {
	ix := exampleIndex(t)
	tests := []struct {
		q     Observable
		kinds MatchKind
		want  []string
	}{
		// Documents 2 and 3 are both USA's: one originator.
		{obs(KindIPv4, "198.51.100.7"), 0, []string{"GBR", "USA"}},
		{obs(KindIPv4, "198.51.100.7"), MatchExact, []string{"GBR"}},
		{obs(KindDomain, "a.b.example.com"), 0, []string{"DEU", "GBR", "USA"}},
		{obs(KindDomain, "nothing.example"), 0, nil},
	}
	for _, tt := range tests {
		c, err := ix.Correlate(tt.q, all, tt.kinds)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(c.Originators, tt.want) || c.Corroboration != len(tt.want) {
			t.Errorf("Correlate(%v, %v) originators %v, corroboration %d; want %v", tt.q, tt.kinds, c.Originators, c.Corroboration, tt.want)
		}
	}
	c, err := ix.Correlate(obs(KindIPv6, "::ffff:198.51.100.7"), all, 0)
	if err != nil || c.Observable != obs(KindIPv4, "198.51.100.7/32") {
		t.Errorf("Correlate(mapped).Observable = %v, %v; want the canonical IPv4 observable", c.Observable, err)
	}
}

func TestCorrelateDocument(t *testing.T) {
	ix := exampleIndex(t)
	got, err := ix.CorrelateDocument(1, all, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Correlation{
		{Observable: obs(KindIPv4, "198.51.100.7/32"), Matches: []Match{
			{1, "GBR", MatchExact, obs(KindIPv4, "198.51.100.7/32")},
			{2, "USA", MatchCIDR, obs(KindIPv4, "198.51.100.0/24")},
			{3, "USA", MatchCIDR, obs(KindIPv4, "198.51.0.0/16")},
		}, Originators: []string{"GBR", "USA"}, Corroboration: 2},
		{Observable: obs(KindDomain, "example.com"), Matches: []Match{
			{1, "GBR", MatchExact, obs(KindDomain, "example.com")},
		}, Originators: []string{"GBR"}, Corroboration: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("CorrelateDocument(1) = %+v; want %+v", got, want)
	}
	o, err := ix.Observables(1, all)
	if wantObs := []Observable{obs(KindIPv4, "198.51.100.7/32"), obs(KindDomain, "example.com")}; err != nil || !reflect.DeepEqual(o, wantObs) {
		t.Errorf("Observables(1) = %v, %v; want %v", o, err, wantObs)
	}
}

func TestNotFoundIsTheSameForHiddenAndAbsent(t *testing.T) {
	ix := exampleIndex(t)
	hide1 := func(d uint32) bool { return d != 1 }
	_, errHidden := ix.CorrelateDocument(1, hide1, 0)
	_, errAbsent := ix.CorrelateDocument(99, hide1, 0)
	if !errors.Is(errHidden, tearline.ErrNotFound) || !errors.Is(errAbsent, tearline.ErrNotFound) {
		t.Fatalf("CorrelateDocument(hidden) = %v, CorrelateDocument(absent) = %v; want ErrNotFound for both", errHidden, errAbsent)
	}
	_, errHidden = ix.Observables(1, hide1)
	if !errors.Is(errHidden, tearline.ErrNotFound) {
		t.Errorf("Observables(hidden) = %v; want ErrNotFound", errHidden)
	}
}

func TestNilVisibility(t *testing.T) {
	ix := exampleIndex(t)
	q := obs(KindDomain, "example.com")
	if _, err := ix.Lookup(nil, q, nil, 0); !errors.Is(err, ErrNoVisibility) {
		t.Errorf("Lookup(nil visibility) error %v; want ErrNoVisibility", err)
	}
	if _, err := ix.Correlate(q, nil, 0); !errors.Is(err, ErrNoVisibility) {
		t.Errorf("Correlate(nil visibility) error %v; want ErrNoVisibility", err)
	}
	if _, err := ix.CorrelateDocument(1, nil, 0); !errors.Is(err, ErrNoVisibility) {
		t.Errorf("CorrelateDocument(nil visibility) error %v; want ErrNoVisibility", err)
	}
	if _, err := ix.Observables(1, nil); !errors.Is(err, ErrNoVisibility) {
		t.Errorf("Observables(nil visibility) error %v; want ErrNoVisibility", err)
	}
}

func TestLookupInvalid(t *testing.T) {
	ix := exampleIndex(t)
	var ve *ValueError
	if _, err := ix.Lookup(nil, obs(KindIPv4, "1.2.3"), all, 0); !errors.As(err, &ve) {
		t.Errorf("Lookup(1.2.3) error %v; want a *ValueError", err)
	}
	if _, err := ix.Correlate(obs(KindDomain, "a..b"), all, 0); !errors.As(err, &ve) {
		t.Errorf("Correlate(a..b) error %v; want a *ValueError", err)
	}
}

func TestAddErrors(t *testing.T) {
	ix := New()
	if err := ix.Add(1, "GBR", []Observable{obs(KindDomain, "example.com")}); err != nil {
		t.Fatal(err)
	}
	if err := ix.Add(1, "GBR", nil); !errors.Is(err, tearline.ErrExists) {
		t.Errorf("Add(1) again = %v; want ErrExists", err)
	}
	if err := ix.Add(2, "", nil); !errors.Is(err, tearline.ErrInvalid) {
		t.Errorf("Add(no originator) = %v; want ErrInvalid", err)
	}
	err := ix.Add(3, "USA", []Observable{obs(KindDomain, "good.example"), obs(KindIPv4, "999.0.0.1")})
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("Add(invalid observable) = %v; want a *ValueError", err)
	}
	if got, _ := ix.Lookup(nil, obs(KindDomain, "good.example"), all, 0); len(got) != 0 {
		t.Errorf("after a failed Add, Lookup(good.example) = %v; want nothing added", got)
	}
	if s := ix.Stats(); s.Documents != 1 || s.Observables != 1 || s.Postings != 1 {
		t.Errorf("Stats() = %+v; want one document, observable and posting", s)
	}
}

func TestAddDeduplicates(t *testing.T) {
	ix := New()
	err := ix.Add(1, "GBR", []Observable{obs(KindDomain, "Example.com"), obs(KindDomain, "example.com."), obs(KindDomain, "example.com")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := ix.Lookup(nil, obs(KindDomain, "example.com"), all, 0)
	if len(got) != 1 {
		t.Errorf("Lookup(example.com) = %v; want one match for a value the document reports three ways", got)
	}
}

func TestRemove(t *testing.T) {
	ix := exampleIndex(t)
	if !ix.Remove(2) {
		t.Fatalf("Remove(2) = false; want true")
	}
	if ix.Remove(2) {
		t.Errorf("Remove(2) again = true; want false")
	}
	got, _ := ix.Lookup(nil, obs(KindIPv4, "198.51.100.7"), all, 0)
	want := []Match{
		{1, "GBR", MatchExact, obs(KindIPv4, "198.51.100.7/32")},
		{3, "USA", MatchCIDR, obs(KindIPv4, "198.51.0.0/16")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("after Remove(2), Lookup(198.51.100.7) = %v; want %v", got, want)
	}
	for _, d := range []uint32{1, 3, 4, 5} {
		ix.Remove(d)
	}
	if s := ix.Stats(); s != (Stats{Partners: 4}) {
		t.Errorf("Stats() after removing everything = %+v; want an empty index (partners are kept)", s)
	}
}

func TestPostingsStaySorted(t *testing.T) {
	ix := New()
	for _, d := range []uint32{5, 1, 3, 2, 4} {
		if err := ix.Add(d, "P"+string(rune('A'+d)), []Observable{obs(KindMutex, "m")}); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := ix.Lookup(nil, obs(KindMutex, "m"), all, 0)
	for i, m := range got {
		if m.Doc != uint32(i+1) {
			t.Fatalf("Lookup(m) docs %v; want 1..5 in order", got)
		}
	}
}

func TestDocSet(t *testing.T) {
	var s DocSet
	for _, d := range []uint32{0, 63, 64, 1000} {
		s.Add(d)
	}
	s.Remove(63)
	s.Remove(5000)
	for _, tt := range []struct {
		doc  uint32
		want bool
	}{{0, true}, {1, false}, {63, false}, {64, true}, {1000, true}, {1001, false}, {1 << 31, false}} {
		if got := s.Has(tt.doc); got != tt.want {
			t.Errorf("Has(%d) = %v; want %v", tt.doc, got, tt.want)
		}
	}
	if !NewDocSet(7).Has(7) {
		t.Errorf("NewDocSet(7).Has(7) = false; want true")
	}
}

func TestMatchKindString(t *testing.T) {
	for _, tt := range []struct {
		k    MatchKind
		want string
	}{{MatchExact, "exact"}, {MatchCIDR, "cidr"}, {MatchDomainSuffix, "domain-suffix"}, {MatchSubdomain, "subdomain"},
		{DefaultMatches, "exact|cidr|domain-suffix"}, {0, "none"}} {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("MatchKind(%d).String() = %q; want %q", tt.k, got, tt.want)
		}
	}
}

// TestConcurrentReadersOneWriter runs queries while one writer adds and
// removes documents (run it with -race). A reader sees a document whole or
// not at all.
func TestConcurrentReadersOneWriter(t *testing.T) {
	ix := New()
	docObs := func(d uint32) []Observable {
		return []Observable{
			obs(KindDomain, fmt.Sprintf("d%d.example.com", d)),
			obs(KindIPv4, fmt.Sprintf("10.0.%d.%d", d/256, d%256)),
			obs(KindIPv4, "10.0.0.0/8"),
		}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for round := range 20 {
			for d := range uint32(200) {
				if err := ix.Add(d, []string{"GBR", "USA"}[d%2], docObs(d)); err != nil {
					t.Errorf("round %d: Add(%d) = %v", round, d, err)
					return
				}
			}
			for d := range uint32(200) {
				ix.Remove(d)
			}
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []Match
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				d := uint32(i*7+r) % 200
				cs, err := ix.CorrelateDocument(d, all, 0)
				if err == nil && len(cs) != 3 {
					t.Errorf("CorrelateDocument(%d) = %d correlations; want the whole document (3)", d, len(cs))
					return
				}
				if err != nil && !errors.Is(err, tearline.ErrNotFound) {
					t.Errorf("CorrelateDocument(%d) = %v", d, err)
					return
				}
				dst, err = ix.Lookup(dst[:0], obs(KindIPv4, "10.0.0.1"), all, 0)
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
