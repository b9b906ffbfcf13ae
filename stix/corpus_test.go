package stix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The corpus under testdata/corpus was written for these tests. valid/ holds
// one file per object type, TYPE.json, plus variants TYPE.VARIANT.json and a
// bundle; each file is one object (or bundle) that MUST be accepted.
// invalid/ holds small objects that MUST be rejected, each for the rule
// given in invalidCases.

const validDir = "testdata/corpus/valid"

// corpusObject is one object read from the valid corpus.
type corpusObject struct {
	file string // base name
	raw  []byte
}

// validCorpus returns every object of the valid corpus; a bundle file
// contributes its elements, read through the Decoder.
func validCorpus(t testing.TB) []corpusObject {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(validDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid corpus in %s (%v)", validDir, err)
	}
	var objs []corpusObject
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(name)
		if typeOfFile(base) != "bundle" {
			objs = append(objs, corpusObject{file: base, raw: data})
			continue
		}
		d := NewDecoder(bytes.NewReader(data))
		for {
			raw, i, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: element %d: %v", base, i, err)
			}
			objs = append(objs, corpusObject{file: fmt.Sprintf("%s[%d]", base, i), raw: bytes.Clone(raw)})
		}
	}
	return objs
}

// typeOfFile returns the object type a corpus file name announces.
func typeOfFile(base string) string {
	typ, _, _ := strings.Cut(strings.TrimSuffix(base, ".json"), ".")
	return typ
}

func TestValidCorpus(t *testing.T) {
	for _, c := range validCorpus(t) {
		t.Run(c.file, func(t *testing.T) {
			obj, v, err := Parse(c.raw)
			if err != nil {
				t.Fatalf("Parse(%s) = %v; want no problems", c.file, err)
			}
			if want := typeOfFile(c.file); want != "bundle" && obj.Type != want {
				t.Errorf("Parse(%s).Type = %q; want %q (the file name's type)", c.file, obj.Type, want)
			}

			// The compacted JSON the node stores reads back to the same
			// object.
			again, _, err := Parse(obj.JSON)
			if err != nil {
				t.Fatalf("Parse(Parse(%s).JSON) = %v; want no problems", c.file, err)
			}
			if again.Hash != obj.Hash || again.ID != obj.ID || !again.Version.Equal(obj.Version) {
				t.Errorf("Parse(Parse(%s).JSON) = %s %x %v; want %s %x %v", c.file,
					again.ID, again.Hash, again.Version, obj.ID, obj.Hash, obj.Version)
			}

			// What goes in comes back out: the parsed tree, serialised
			// again, is the same JSON value as the input, and so is the
			// stored text.
			out, err := AppendCanonical(nil, v)
			if err != nil {
				t.Fatalf("AppendCanonical(%s): %v", c.file, err)
			}
			for _, got := range []struct {
				what string
				data []byte
			}{{"AppendCanonical", out}, {"JSON", obj.JSON}} {
				eq, err := jsonValuesEqual(got.data, c.raw)
				if err != nil {
					t.Fatalf("%s(%s): %v", got.what, c.file, err)
				}
				if !eq {
					t.Errorf("%s(%s) =\n%s\nis not the same JSON value as the input\n%s", got.what, c.file, got.data, c.raw)
				}
			}
		})
	}
}

func TestValidCorpusCoversEveryType(t *testing.T) {
	names := TypeNames()
	if len(names) != 42 {
		t.Errorf("len(TypeNames()) = %d; want 42 (19 SDOs, 2 SROs, 18 SCOs, 3 meta objects)", len(names))
	}
	have := map[string]bool{}
	for _, c := range validCorpus(t) {
		if _, _, err := Parse(c.raw); err == nil {
			have[typeOfFile(c.file)] = true
		}
	}
	slices.Sort(names)
	for _, n := range names {
		if !have[n] {
			t.Errorf("no valid corpus file %s/%s.json", validDir, n)
		}
	}
	for _, extra := range []string{"bundle", "x-ct-propaganda-channel"} {
		if !have[extra] {
			t.Errorf("no valid corpus file %s/%s.json", validDir, extra)
		}
	}
}

// TestValidCorpusIdentifiers proves the corpus consistent: every
// cyber-observable with id-contributing properties carries the
// deterministic id, and every other object a random (version 4) UUID.
func TestValidCorpusIdentifiers(t *testing.T) {
	for _, c := range validCorpus(t) {
		v, err := ParseJSON(c.raw)
		if err != nil {
			t.Fatalf("ParseJSON(%s): %v", c.file, err)
		}
		idv, _ := v.Get("id")
		want, ok, err := DeterministicID(&v)
		if err != nil {
			t.Errorf("DeterministicID(%s): %v", c.file, err)
			continue
		}
		if ok {
			if idv.Str != want {
				t.Errorf("DeterministicID(%s) = %s; the file has id %s", c.file, want, idv.Str)
			}
			continue
		}
		if _, uuid, _ := strings.Cut(idv.Str, "--"); len(uuid) != 36 || uuid[14] != '4' {
			t.Errorf("%s: id %s is not a version 4 UUID", c.file, idv.Str)
		}
	}
}

// TestDeterministicIDVectors checks DeterministicID against identifiers
// computed independently (Python's uuid.uuid5 over the canonical JSON of the
// contributing properties, in the STIX namespace).
func TestDeterministicIDVectors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"type":"ipv4-addr","value":"203.0.113.45"}`, "ipv4-addr--cb9d70c5-d244-531c-9efb-bcae57adc793"},
		// MD5 is preferred over SHA-256; payload_bin also contributes.
		{`{"type":"artifact","hashes":{"SHA-256":"f232d74112fdfc00db804d2eeec37ff7a35aeb80966f7a196b52a89976f23d77","MD5":"53bc3c85c8f8eb7fc07138c51c928b7d"},` +
			`"payload_bin":"U3ViIEF1dG9PcGVuKCkNCiAgICAnIGRyb3BwZXIgc3RhZ2UgcmVtb3ZlZCBieSBDVCBmdXNpb24gY2VsbCBhbmFseXN0DQogICAgU2hlbGwgInJ1bmRsbDMyLmV4ZSB0Z2NvcmUuZGxsLFN0YXJ0IiwgdmJIaWRlDQpFbmQgU3ViDQo="}`,
			"artifact--ca0f11ac-3a53-5321-bf8f-a54993cdbb41"},
	} {
		v, err := ParseJSON([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if got, ok, err := DeterministicID(&v); got != tc.want || !ok || err != nil {
			t.Errorf("DeterministicID(%s) = %s, %v, %v; want %s, true, nil", tc.in, got, ok, err, tc.want)
		}
	}
}

// jsonValuesEqual reports whether a and b hold the same JSON value, decoded
// by encoding/json: member order and number spelling do not matter, numbers
// are compared by their float64 value.
func jsonValuesEqual(a, b []byte) (bool, error) {
	va, err := decodeForCompare(a)
	if err != nil {
		return false, err
	}
	vb, err := decodeForCompare(b)
	if err != nil {
		return false, err
	}
	return reflect.DeepEqual(va, vb), nil
}

func decodeForCompare(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return numbersToFloat(v)
}

func numbersToFloat(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		return strconv.ParseFloat(string(x), 64)
	case []any:
		for i := range x {
			var err error
			if x[i], err = numbersToFloat(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			var err error
			if x[k], err = numbersToFloat(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

func TestJSONValuesEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[true,null]}`, `{ "b" : [true, null], "a" : 1.0 }`, true},
		{`{"a":250.0}`, `{"a":2.5e2}`, true},
		{`{"a":"\u00e9"}`, `{"a":"é"}`, true},
		{`{"a":1}`, `{"a":2}`, false},
		{`{"a":1}`, `{"a":"1"}`, false},
		{`{"a":[1,2]}`, `{"a":[2,1]}`, false},
		{`{"a":1}`, `{"a":1,"b":null}`, false},
	} {
		if got, err := jsonValuesEqual([]byte(tc.a), []byte(tc.b)); got != tc.want || err != nil {
			t.Errorf("jsonValuesEqual(%s, %s) = %v, %v; want %v", tc.a, tc.b, got, err, tc.want)
		}
	}
}
