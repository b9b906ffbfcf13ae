package stix

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseJSON: ParseJSON never panics; whatever it accepts, encoding/json
// accepts too, and its canonical form is accepted, is a fixed point of
// Canonicalize and holds the same JSON value.
func FuzzParseJSON(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := ParseJSON(data); err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("ParseJSON(%q) accepted what encoding/json rejects", data)
		}
		c1, err := Canonicalize(data)
		if err != nil {
			t.Fatalf("Canonicalize(%q) = %v after ParseJSON accepted it", data, err)
		}
		if _, err := ParseJSON(c1); err != nil {
			t.Fatalf("ParseJSON(Canonicalize(%q)) = %v; want it accepted", data, err)
		}
		if !json.Valid(c1) {
			t.Fatalf("encoding/json rejects Canonicalize(%q) = %q", data, c1)
		}
		c2, err := Canonicalize(c1)
		if err != nil || !bytes.Equal(c1, c2) {
			t.Fatalf("Canonicalize(Canonicalize(%q)) = %q, %v; want %q", data, c2, err, c1)
		}
		if eq, err := jsonValuesEqual(c1, data); err != nil || !eq {
			t.Fatalf("Canonicalize(%q) = %q is not the same JSON value (%v)", data, c1, err)
		}
	})
}

// FuzzParse: Parse never panics; an accepted object parses again from the
// JSON it returns, to the same identity and content hash, and that hash is
// the SHA-256 of the canonical form.
func FuzzParse(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, _, err := Parse(data)
		if err != nil {
			var oe *ObjectError
			if !errors.As(err, &oe) || len(oe.Problems) == 0 {
				t.Fatalf("Parse(%q) error %T %v; want an *ObjectError with problems", data, err, err)
			}
			return
		}
		again, _, err := Parse(obj.JSON)
		if err != nil {
			t.Fatalf("Parse(Parse(%q).JSON = %q) = %v; want it accepted", data, obj.JSON, err)
		}
		if again.ID != obj.ID || again.Hash != obj.Hash || !again.Version.Equal(obj.Version) {
			t.Fatalf("Parse(Parse(%q).JSON) = %s %x %v; want %s %x %v", data,
				again.ID, again.Hash, again.Version, obj.ID, obj.Hash, obj.Version)
		}
		c, err := Canonicalize(data)
		if err != nil {
			t.Fatalf("Canonicalize(%q) = %v after Parse accepted it", data, err)
		}
		if sha256.Sum256(c) != obj.Hash {
			t.Fatalf("Parse(%q).Hash is not the SHA-256 of the canonical form %q", data, c)
		}
	})
}

// FuzzDecoder: the Decoder never panics, always ends, numbers its results
// without gaps and returns only text that starts an object, within the size
// limit, never more objects than the input has '{'. On well-formed input
// (one object, or one bundle) it returns exactly what a JSON parser reads.
//
// The Decoder only frames objects; it does not check that brackets match
// ("{]" is returned as an object and left for Parse to reject), so returned
// text is not required to be valid JSON.
func FuzzDecoder(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte, maxSize uint16) {
		d := NewDecoder(bytes.NewReader(data))
		if maxSize > 0 {
			d.SetMaxObjectSize(int(maxSize))
		}
		want, checkWant := expectedDecode(data)
		if maxSize > 0 {
			checkWant = false
		}
		var got [][]byte
		objects, next := 0, 0
		// Every result consumes at least one byte.
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatalf("decoder did not end after %d results on %d bytes", n, len(data))
			}
			raw, i, err := d.Next()
			if err == io.EOF {
				break
			}
			var oe *ObjectError
			var ie *InputError
			switch {
			case err == nil:
				objects++
				if len(raw) < 2 || raw[0] != '{' {
					t.Fatalf("Next() = %q; want the text of one object", raw)
				}
				got = append(got, bytes.Clone(raw))
				if maxSize > 0 && len(raw) > int(maxSize) {
					t.Fatalf("Next() = %d bytes; the limit is %d", len(raw), maxSize)
				}
			case errors.As(err, &oe):
				got = append(got, nil)
			case errors.As(err, &ie):
				if checkWant {
					t.Fatalf("Next() = %v on well-formed input %q", err, data)
				}
				if _, _, again := d.Next(); again != err {
					t.Fatalf("Next() after %v = %v; want the same error", err, again)
				}
			default:
				t.Fatalf("Next() = %T %v; want *ObjectError, *InputError or io.EOF", err, err)
			}
			if ie != nil {
				break
			}
			if i != next {
				t.Fatalf("Next() index %d; want %d", i, next)
			}
			next++
		}
		if braces := bytes.Count(data, []byte{'{'}); objects > braces {
			t.Fatalf("decoder returned %d objects from input with %d '{'", objects, braces)
		}
		if !checkWant {
			return
		}
		if len(got) != len(want) {
			t.Fatalf("decoder returned %d results from %q; want %d", len(got), data, len(want))
		}
		for i := range want {
			if (got[i] == nil) != (want[i] == nil) {
				t.Fatalf("result %d of %q = %q; want %q", i, data, got[i], want[i])
			}
			if want[i] == nil {
				continue
			}
			if eq, err := jsonValuesEqual(got[i], want[i]); err != nil || !eq {
				t.Fatalf("result %d of %q = %q; want %q (%v)", i, data, got[i], want[i], err)
			}
		}
	})
}

// expectedDecode says what the Decoder must return for data when data is
// one well-formed object or bundle: the object itself, or each element of
// the bundle's objects list (nil for an element that is not an object).
// ok is false when data is anything else.
func expectedDecode(data []byte) (want [][]byte, ok bool) {
	v, err := ParseJSON(data)
	if err != nil || v.Kind != Object {
		return nil, false
	}
	list, hasList := v.Get("objects")
	if !hasList || list.Kind != Array {
		c, err := AppendCanonical(nil, &v)
		return [][]byte{c}, err == nil
	}
	typ, _ := v.Get("type")
	if typ == nil || typ.Kind != String || typ.Str != "bundle" {
		return nil, false
	}
	if id, ok := v.Get("id"); ok {
		c := &checker{}
		if id.Kind != String {
			return nil, false
		}
		if t, ok := checkIdentifier(c, "$.id", id.Str); !ok || t != "bundle" {
			return nil, false
		}
	}
	for i := range list.Arr {
		if list.Arr[i].Kind != Object {
			want = append(want, nil)
			continue
		}
		c, err := AppendCanonical(nil, &list.Arr[i])
		if err != nil {
			return nil, false
		}
		want = append(want, c)
	}
	return want, true
}
