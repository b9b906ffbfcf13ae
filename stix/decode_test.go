package stix

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// decodeObjects are small valid objects from the corpus, compacted, keyed by
// a short name used in the decoder tests.
func decodeObjects(t *testing.T) map[string]string {
	t.Helper()
	objs := map[string]string{}
	for name, file := range map[string]string{
		"A": "identity.json", "B": "indicator.json", "C": "ipv4-addr.json",
		"D": "url.json", "E": "mutex.json", "F": "observed-data.objects.json",
	} {
		data, err := os.ReadFile(filepath.Join(validDir, file))
		if err != nil {
			t.Fatal(err)
		}
		objs[name] = string(Compact(nil, data))
	}
	return objs
}

// decodeTrace reads input to the end and describes each result: "A@0" for
// object A returned with index 0, "rule@3" for an *ObjectError, "input" for
// an *InputError, which ends the trace. It checks that every returned object
// parses and that a broken input keeps returning its error.
func decodeTrace(t *testing.T, r io.Reader, maxSize int, names map[string]string) []string {
	return decodeTraceN(t, r, maxSize, names, 1000)
}

func decodeTraceN(t *testing.T, r io.Reader, maxSize int, names map[string]string, limit int) []string {
	t.Helper()
	d := NewDecoder(r)
	if maxSize > 0 {
		d.SetMaxObjectSize(maxSize)
	}
	var trace []string
	for n := 0; ; n++ {
		if n > limit {
			t.Fatalf("decoder returned more than %d results: %.200v", limit, trace)
		}
		raw, i, err := d.Next()
		if err == io.EOF {
			return trace
		}
		var oe *ObjectError
		var ie *InputError
		switch {
		case errors.As(err, &oe):
			if oe.Index != i {
				t.Errorf("Next() index %d; ObjectError.Index %d", i, oe.Index)
			}
			trace = append(trace, fmt.Sprintf("%s@%d", strings.Join(oe.Rules(), ","), i))
			continue
		case errors.As(err, &ie):
			trace = append(trace, "input")
			if _, _, again := d.Next(); again != err {
				t.Errorf("Next() after %v = %v; want the same error", err, again)
			}
			return trace
		case err != nil:
			t.Fatalf("Next() = %T %v; want *ObjectError, *InputError or io.EOF", err, err)
		}
		obj, _, perr := Parse(raw)
		if perr != nil {
			t.Fatalf("Parse(object %d) = %v; want it to parse", i, perr)
		}
		name := "?"
		for k, v := range names {
			if obj.JSON != nil && string(Compact(nil, []byte(v))) == string(obj.JSON) {
				name = k
			}
		}
		trace = append(trace, fmt.Sprintf("%s@%d", name, i))
	}
}

func TestDecoder(t *testing.T) {
	o := decodeObjects(t)
	A, B, C, D, E, F := o["A"], o["B"], o["C"], o["D"], o["E"], o["F"]
	bid := `"id":"bundle--0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"`
	pretty, err := os.ReadFile(filepath.Join(validDir, "indicator.json"))
	if err != nil {
		t.Fatal(err)
	}
	big := `{"type":"note","spec_version":"2.1","id":"note--c0a8e4b2-6d1f-4a3e-9b5c-7e2d4f6a8b0c",` +
		`"created":"2024-03-16T09:00:00.000Z","modified":"2024-03-16T09:00:00.000Z",` +
		`"content":"` + strings.Repeat("transcript withheld; ", 200) + `",` +
		`"object_refs":["identity--0f6c3f4e-2b1d-4a5e-9c8b-7d6e5f4a3b2c"]}`
	maxSize := len(A) + len(B) + len(C) + len(D) + len(E) // below len(big)
	if maxSize >= len(big) || len(B) <= len(A) {
		t.Fatalf("test objects do not fit the cases: %d >= %d or %d <= %d", maxSize, len(big), len(B), len(A))
	}

	for _, tc := range []struct {
		name    string
		in      string
		maxSize int
		want    []string
	}{
		{name: "empty input", in: "", want: nil},
		{name: "whitespace only", in: " \r\n\t\n", want: nil},
		{name: "bare object", in: A, want: []string{"A@0"}},
		{name: "bare object pretty-printed", in: string(pretty), want: []string{"B@0"}},
		{name: "bundle", in: `{"type":"bundle",` + bid + `,"objects":[` + A + `,` + B + `]}`, want: []string{"A@0", "B@1"}},
		{name: "bundle with type after objects", in: `{"objects":[` + A + `,` + B + `],` + bid + `,"type":"bundle"}`, want: []string{"A@0", "B@1"}},
		{name: "bundle with id only after objects", in: `{"type":"bundle","objects":[` + C + `],` + bid + `}`, want: []string{"C@0"}},
		{name: "bundle with STIX 2.0 spec_version", in: `{"type":"bundle",` + bid + `,"spec_version":"2.0","objects":[` + D + `],"x_note":{"k":[1,2]}}`, want: []string{"D@0"}},
		{name: "empty bundle then object", in: `{"type":"bundle",` + bid + `,"objects":[]}` + "\n" + A, want: []string{"A@0"}},
		{name: "bare object with an objects dictionary", in: F + "\n" + A, want: []string{"F@0", "A@1"}},
		{
			name: "JSON lines with a bundle on one line",
			in:   A + "\n" + B + "\n" + `{"type":"bundle",` + bid + `,"objects":[` + C + `,` + D + `]}` + "\n" + E + "\n",
			want: []string{"A@0", "B@1", "C@2", "D@3", "E@4"},
		},
		{
			name: "index continues across bundles",
			in: `{"type":"bundle",` + bid + `,"objects":[` + A + `,` + B + `]}` +
				`{"type":"bundle","objects":[` + C + `,` + D + `,` + E + `]}`,
			want: []string{"A@0", "B@1", "C@2", "D@3", "E@4"},
		},
		{
			name: "CRLF, tabs, blank lines, no final newline",
			in:   "\r\n\r\n\t" + A + "\r\n\r\n" + B + "\t \r\n" + C,
			want: []string{"A@0", "B@1", "C@2"},
		},
		{
			name: "whitespace around every bundle token",
			in:   " {\n\t\"type\" :\r\n \"bundle\" ,\n " + bid + " , \"objects\"\n:\n[\n " + A + "\n ,\n\t" + B + " \n]\n }\n",
			want: []string{"A@0", "B@1"},
		},
		{
			name:    "element too large is skipped",
			in:      `{"type":"bundle",` + bid + `,"objects":[` + A + `,` + big + `,` + B + `]}`,
			maxSize: maxSize,
			want:    []string{"A@0", "object-too-large@1", "B@2"},
		},
		{
			name:    "first and last elements too large",
			in:      `{"type":"bundle",` + bid + `,"objects":[` + big + `,` + C + `,` + big + `]}` + D,
			maxSize: maxSize,
			want:    []string{"object-too-large@0", "C@1", "object-too-large@2", "D@3"},
		},
		{
			name:    "JSON line too large is skipped",
			in:      A + "\n" + big + "\n" + B + "\n",
			maxSize: maxSize,
			want:    []string{"A@0", "object-too-large@1", "B@2"},
		},
		{
			// Every member fits the limit; together they do not.
			name:    "bare object too large in total",
			in:      `{"type":"bundle","objects":[` + A + `]}` + strings.Replace(big, `"content":`, `"x_part1":"`+strings.Repeat("a", maxSize/2)+`","content":`, 1) + C,
			maxSize: maxSize,
			want:    []string{"A@0", "object-too-large@1", "C@2"},
		},
		{
			name:    "bundle with a large member before its objects",
			in:      `{"type":"bundle","x_comment":"` + strings.Repeat("b", 2*maxSize) + `",` + bid + `,"objects":[` + A + `,` + B + `]}` + C,
			maxSize: maxSize,
			want:    []string{"A@0", "B@1", "C@2"},
		},
		{
			name:    "object at the limit, then one over it",
			in:      A + "\n" + B,
			maxSize: len(A),
			want:    []string{"A@0", "object-too-large@1"},
		},
		{
			name: "elements that are not objects are skipped",
			in:   `{"type":"bundle",` + bid + `,"objects":[` + A + `,42,"indicator--x",null,[` + B + `],` + C + `]}`,
			want: []string{"A@0", "object-type@1", "object-type@2", "object-type@3", "object-type@4", "C@5"},
		},
		{
			name: "truncated bundle",
			in:   `{"type":"bundle",` + bid + `,"objects":[` + A + `,` + B + `,` + C[:len(C)/2],
			want: []string{"A@0", "B@1", "input"},
		},
		{
			name: "bundle cut after an element",
			in:   `{"type":"bundle",` + bid + `,"objects":[` + A + `,`,
			want: []string{"A@0", "input"},
		},
		{
			name: "bundle not closed",
			in:   `{"type":"bundle",` + bid + `,"objects":[` + A + `]`,
			want: []string{"A@0", "input"},
		},
		{name: "truncated bare object", in: A + "\n" + B[:len(B)-1], want: []string{"A@0", "input"}},
		{name: "top-level array", in: `[` + A + `]`, want: []string{"input"}},
		{name: "garbage after an object", in: A + ` xyz`, want: []string{"A@0", "input"}},
		{name: "missing comma between elements", in: `{"type":"bundle","objects":[` + A + ` ` + B + `]}`, want: []string{"A@0", "input"}},
		// An object that is not a bundle is one object, whatever it holds.
		{name: "objects list in a non-bundle", in: `{"objects":[` + A + `],"type":"x-list","id":"x-list--0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a"}`, want: []string{"?@0"}},
		{name: "bad bundle id", in: `{"type":"bundle","id":"bundle--1234","objects":[` + A + `]}`, want: []string{"A@0", "input"}},
		{name: "bundle id of another type", in: `{"type":"bundle","id":"report--0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a","objects":[]}`, want: []string{"input"}},
		{name: "two objects lists", in: `{"type":"bundle","objects":[` + A + `],"objects":[` + B + `]}`, want: []string{"A@0", "input"}},
	} {
		for _, rd := range []struct {
			name string
			wrap func(io.Reader) io.Reader
		}{
			{"", func(r io.Reader) io.Reader { return r }},
			// Network streams deliver input in pieces; every token must
			// survive being split across reads.
			{"/one byte per read", iotest.OneByteReader},
		} {
			t.Run(tc.name+rd.name, func(t *testing.T) {
				got := decodeTrace(t, rd.wrap(strings.NewReader(tc.in)), tc.maxSize, o)
				if !slices.Equal(got, tc.want) {
					t.Errorf("decode(%.80q) = %v; want %v", tc.in, got, tc.want)
				}
			})
		}
	}
}

// TestDecoderLargeInput streams more objects than fit in the Decoder's read
// buffer and checks that none is lost at a buffer boundary.
func TestDecoderLargeInput(t *testing.T) {
	o := decodeObjects(t)
	var b bytes.Buffer
	b.WriteString(`{"type":"bundle","objects":[`)
	const n = 2000
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",\n")
		}
		b.WriteString(o["B"])
	}
	b.WriteString("]}")
	if b.Len() < 1<<20 {
		t.Fatalf("input is %d bytes; want more than the read buffer", b.Len())
	}
	got := decodeTraceN(t, &b, 0, map[string]string{"B": o["B"]}, n)
	if len(got) != n || got[n-1] != fmt.Sprintf("B@%d", n-1) {
		t.Errorf("decode(%d objects) returned %d results ending %v; want %d", n, len(got), got[max(0, len(got)-1):], n)
	}
}

func TestTopLevelString(t *testing.T) {
	cases := []struct {
		raw, want string
		ok        bool
	}{
		{`{"type":"bundle"}`, "bundle", true},
		{`{"id":"x","objects":[{"type":"indicator"}],"type":"bundle"}`, "bundle", true},
		{`{ "a" : { "type" : "inner" } , "b":[1,"]",{"c":"}"}], "type" : "bun\u0064le" }`, "bundle", true},
		{`{"n":12,"t":true,"type":"report"}`, "report", true},
		{`{"x":"a\"type\":\"bundle"}`, "", false},
		{`{"type":5}`, "", false},
		{`{"a":1`, "", false},
		{`{"a" 1,"type":"bundle"}`, "", false},
	}
	for _, c := range cases {
		got, ok := topLevelString([]byte(c.raw), "type")
		if got != c.want || ok != c.ok {
			t.Errorf("topLevelString(%s) = %q, %v; want %q, %v", c.raw, got, ok, c.want, c.ok)
		}
	}
}
