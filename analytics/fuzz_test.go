package analytics

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/stix"
)

// checkCanonical fails unless o is a canonical observable: Normalise
// returns it unchanged and the index can hold it.
func checkCanonical(t *testing.T, o Observable, from string) {
	t.Helper()
	if !o.Kind.Valid() {
		t.Fatalf("%s gave kind %v; want a valid kind", from, o.Kind)
	}
	again, err := Normalise(o.Kind, o.Value)
	if err != nil || again != o {
		t.Fatalf("%s gave %v, which Normalise turns into %v, %v; want it unchanged", from, o, again, err)
	}
	if !utf8.ValidString(o.Value) {
		t.Fatalf("%s gave %v, not valid UTF-8", from, o)
	}
	switch o.Kind {
	case KindIPv4, KindIPv6:
		if _, ok := o.Prefix(); !ok {
			t.Fatalf("%s gave %v, whose Prefix fails", from, o)
		}
	case KindURL:
		h, ok := o.Host()
		if !ok {
			t.Fatalf("%s gave %v, whose Host fails", from, o)
		}
		checkCanonical(t, h, "Host of "+from)
	}
}

func checkValueError(t *testing.T, err error, from string) {
	t.Helper()
	var ve *ValueError
	if !errors.As(err, &ve) || ve.Reason == "" || !(errors.Is(err, tearline.ErrInvalid) || errors.Is(err, ErrUnsupported)) {
		t.Fatalf("%s error %T %v; want a *ValueError with a reason", from, err, err)
	}
	if len(err.Error()) > 1200 {
		t.Fatalf("%s error is %d bytes long; want it bounded", from, len(err.Error()))
	}
}

// FuzzNormalise: Normalise never panics, fails only with a *ValueError,
// and what it returns is canonical (Normalise leaves it unchanged).
func FuzzNormalise(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, kind byte, value string) {
		k := Kind(kind % uint8(kindEnd+1))
		o, err := Normalise(k, value)
		if k == KindURL {
			// The allocation-free recogniser of canonical URLs must agree
			// with the full normaliser.
			slow, slowErr := normaliseURLSlow(value)
			if (err == nil) != (slowErr == nil) || slow != o {
				t.Fatalf("Normalise(url, %q) = %v, %v; the full normaliser gives %v, %v", value, o, err, slow, slowErr)
			}
		}
		if err != nil {
			checkValueError(t, err, "Normalise")
			return
		}
		if k != o.Kind && !(k == KindIPv6 && o.Kind == KindIPv4) {
			t.Fatalf("Normalise(%v, %q) = %v; want kind %v", k, value, o, k)
		}
		checkCanonical(t, o, "Normalise")
	})
}

// FuzzFromSCO: FromSCO never panics on any JSON object; its errors are
// *ExtractErrors, and every observable it returns is canonical and can be
// indexed and found again.
func FuzzFromSCO(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := stix.ParseJSON(data)
		if err != nil {
			return
		}
		got, err := FromSCO(&v)
		if err != nil {
			var ee *ExtractError
			if !errors.As(err, &ee) {
				t.Fatalf("FromSCO error %T %v; want *ExtractErrors", err, err)
			}
		}
		for _, o := range got {
			checkCanonical(t, o, "FromSCO")
		}
		ix := New()
		if err := ix.Add(1, "GBR", got); err != nil {
			t.Fatalf("Add(FromSCO()) = %v", err)
		}
		for _, o := range got {
			m, err := ix.Lookup(nil, o, all, MatchExact)
			if err != nil || len(m) != 1 {
				t.Fatalf("Lookup(%v) = %v, %v; want the document that reported it", o, m, err)
			}
		}
	})
}

// FuzzFromComparisons: any comparison a pattern parser could hand over is
// read without panicking, errors are *ExtractErrors and results canonical.
func FuzzFromComparisons(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, objectType, path, op, values string, negated bool) {
		c := Comparison{ObjectType: objectType, Path: strings.Split(path, "."), Operator: Operator(op), Negated: negated, Values: strings.Split(values, "\n")}
		got, err := FromComparisons([]Comparison{c})
		if err != nil {
			var ee *ExtractError
			if !errors.As(err, &ee) {
				t.Fatalf("FromComparisons(%+v) error %T %v; want *ExtractErrors", c, err, err)
			}
			for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
				if len(e.Error()) > 2000 {
					t.Fatalf("FromComparisons error is %d bytes long; want each bounded", len(e.Error()))
				}
			}
		}
		for _, o := range got {
			checkCanonical(t, o, "FromComparisons")
		}
	})
}

// FuzzIndex drives Add, Remove and Lookup from the fuzzer's bytes and
// checks every answer against the reference index.
func FuzzIndex(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 4096 {
			return
		}
		ix := New()
		ref := &refIndex{docs: map[uint32]refDoc{}}
		// Each op is 3 bytes: what, which document or query, which value.
		for i := 0; i+2 < len(ops); i += 3 {
			doc := uint32(ops[i+1] % 16)
			o := fuzzObservable(ops[i+2])
			switch ops[i] % 3 {
			case 0:
				if _, ok := ref.docs[doc]; ok {
					continue
				}
				os := []Observable{o, fuzzObservable(ops[i+2] * 7)}
				orig := []string{"GBR", "USA", "FRA"}[ops[i+1]%3]
				if err := ix.Add(doc, orig, os); err != nil {
					t.Fatalf("Add(%d, %v) = %v", doc, os, err)
				}
				ref.add(doc, orig, os)
			case 1:
				_, want := ref.docs[doc]
				if got := ix.Remove(doc); got != want {
					t.Fatalf("Remove(%d) = %v; want %v", doc, got, want)
				}
				delete(ref.docs, doc)
			case 2:
				vis := func(d uint32) bool { return d%2 == uint32(ops[i+1]>>7) || ops[i+1]&0x40 != 0 }
				kinds := MatchKind(ops[i+1]>>4) & 15
				got, err := ix.Lookup(nil, o, vis, kinds)
				if err != nil {
					t.Fatal(err)
				}
				want := ref.lookup(o, vis, kinds)
				if len(got) != len(want) {
					t.Fatalf("Lookup(%v, %v) = %v; want %v", o, kinds, got, want)
				}
				for j := range got {
					if got[j] != want[j] {
						t.Fatalf("Lookup(%v, %v) = %v; want %v", o, kinds, got, want)
					}
				}
			}
		}
	})
}

// fuzzObservable maps a byte onto a small universe of nested prefixes and
// domains, so that short inputs reach every kind of match.
func fuzzObservable(b byte) Observable {
	switch b % 4 {
	case 0:
		prefixes := []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32", "10.2.0.0/16", "0.0.0.0/0", "10.1.2.4/31", "11.0.0.0/8"}
		return Observable{KindIPv4, prefixes[b>>2&7]}
	case 1:
		prefixes := []string{"2001:db8::/32", "2001:db8::/64", "2001:db8::1/128", "2001:db8:1::/48", "::/0", "2001:db8::2/127", "fe80::/10", "2001:db8::/33"}
		return Observable{KindIPv6, prefixes[b>>2&7]}
	case 2:
		names := []string{"com", "example.com", "a.example.com", "b.a.example.com", "b.example.com", "example.org", "a.b.example.com", "x.com"}
		return Observable{KindDomain, names[b>>2&7]}
	}
	return Observable{KindMutex, string(rune('a' + b>>2&7))}
}
