package stix

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf16"
)

func TestCanonicalizeRFC8785Examples(t *testing.T) {
	for _, name := range []string{"example", "sorting"} {
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata/jcs", name+".input.json"))
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata/jcs", name+".output.json"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Canonicalize(in)
			if err != nil {
				t.Fatalf("Canonicalize: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("Canonicalize(%s) =\n%s\nwant\n%s", name, got, want)
			}
		})
	}
}

func TestESNumberRFC8785Vectors(t *testing.T) {
	f, err := os.Open("testdata/jcs/numbers.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	n := 0
	for s.Scan() {
		bitsHex, want, _ := strings.Cut(s.Text(), " ")
		b, err := hex.DecodeString(bitsHex)
		if err != nil {
			t.Fatal(err)
		}
		x := math.Float64frombits(binary.BigEndian.Uint64(b))
		if got := string(AppendESNumber(nil, x)); got != want {
			t.Errorf("AppendESNumber(%s) = %s; want %s", bitsHex, got, want)
		}
		// The same value written as a JSON literal canonicalises the same.
		lit := strconv.FormatFloat(x, 'g', -1, 64)
		got, err := appendCanonicalNumber(nil, lit)
		if err != nil || string(got) != want {
			t.Errorf("appendCanonicalNumber(%s) = %s, %v; want %s", lit, got, err, want)
		}
		n++
	}
	if n != 24 {
		t.Fatalf("read %d vectors; want 24", n)
	}
}

// referenceCanonical is a slow, obviously correct canonicaliser built on
// encoding/json, used to cross-check the fast one on structure, member
// order and string escaping.
func referenceCanonical(t testing.TB, data []byte) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatalf("reference decode: %v", err)
	}
	var b bytes.Buffer
	var write func(v any)
	write = func(v any) {
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case bool:
			b.WriteString(strconv.FormatBool(x))
		case json.Number:
			f, _ := strconv.ParseFloat(string(x), 64)
			b.Write(AppendESNumber(nil, f))
		case string:
			b.WriteByte('"')
			for _, r := range x {
				switch {
				case r == '"':
					b.WriteString(`\"`)
				case r == '\\':
					b.WriteString(`\\`)
				case r == '\b':
					b.WriteString(`\b`)
				case r == '\f':
					b.WriteString(`\f`)
				case r == '\n':
					b.WriteString(`\n`)
				case r == '\r':
					b.WriteString(`\r`)
				case r == '\t':
					b.WriteString(`\t`)
				case r < 0x20:
					b.WriteString(`\u00`)
					b.WriteString(hex.EncodeToString([]byte{byte(r)}))
				default:
					b.WriteRune(r)
				}
			}
			b.WriteByte('"')
		case []any:
			b.WriteByte('[')
			for i, e := range x {
				if i > 0 {
					b.WriteByte(',')
				}
				write(e)
			}
			b.WriteByte(']')
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool {
				return slices.Compare(utf16.Encode([]rune(keys[i])), utf16.Encode([]rune(keys[j]))) < 0
			})
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteByte(',')
				}
				write(k)
				b.WriteByte(':')
				write(x[k])
			}
			b.WriteByte('}')
		}
	}
	write(v)
	return b.Bytes()
}

func TestCanonicalizeMatchesReference(t *testing.T) {
	inputs := []string{
		`{"b":1,"a":[true,false,null,{"z":"\u0001\u001f","y":"\ud83d\ude00","\uffff":1,"\ud800\udc00":2}]}`,
		`{"":0,"a":-0,"b":1.5e300,"c":-1e-7,"d":123456789012345678901234567890}`,
		`[1,2.0,3e0,"\\\"/"]`,
	}
	for _, name := range sharedFiles(t)[:3] {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, string(data))
	}
	for i, in := range inputs {
		got, err := Canonicalize([]byte(in))
		if err != nil {
			t.Fatalf("input %d: %v", i, err)
		}
		if want := referenceCanonical(t, []byte(in)); !bytes.Equal(got, want) {
			t.Errorf("input %d: Canonicalize =\n%.300s\nreference\n%.300s", i, got, want)
		}
	}
}

func TestParseJSONRejects(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a":1,}`, `[1,]`, `{"a":1,"a":2}`, `"\ud800"`, `"\udc00\ud800"`, "\"\xff\"",
		`01`, `1.`, `1e`, `-`, `1e400`, `nul`, `{"a" 1}`, `[1 2]`, "\"a\tb\"", `{} {}`,
		strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1),
	} {
		if _, err := ParseJSON([]byte(in)); err == nil {
			t.Errorf("ParseJSON(%q) = nil error; want a syntax error", in)
		}
	}
}

func TestCompactKeepsValues(t *testing.T) {
	in := []byte("{ \"a\" : [ 1 , \"x y\\\" \" ] ,\n\t\"b\":1.50 }")
	got := Compact(nil, in)
	if want := `{"a":[1,"x y\" "],"b":1.50}`; string(got) != want {
		t.Errorf("Compact = %s; want %s", got, want)
	}
}

// TestParseJSONStrings: strings are read eight bytes at a time where they
// can be; wherever a quote, a backslash, a control character, a byte of
// invalid UTF-8 or a valid multi-byte character falls (before, on and
// after the word boundaries), the result is the byte-by-byte one.
func TestParseJSONStrings(t *testing.T) {
	for n := range 24 {
		pad := strings.Repeat("a", n)
		for _, tc := range []struct {
			text, want string
			ok         bool
		}{
			{`"` + pad + `"`, pad, true},
			{`"` + pad + `é` + pad + `"`, pad + "é" + pad, true},
			{`"` + pad + `\n` + pad + `"`, pad + "\n" + pad, true},
			{`"` + pad + `\"` + pad + `"`, pad + `"` + pad, true},
			{`"` + pad + "\xff" + pad + `"`, "", false},
			{`"` + pad + "\xc3" + pad + `"`, "", false},
			{`"` + pad + "\x01" + pad + `"`, "", false},
			{`"` + pad + "\x1f" + pad + `"`, "", false},
			{`"` + pad, "", false},
		} {
			v, err := ParseJSON([]byte(tc.text))
			switch {
			case !tc.ok && err == nil:
				t.Errorf("ParseJSON(%q) accepted", tc.text)
			case tc.ok && (err != nil || v.Kind != String || v.Str != tc.want):
				t.Errorf("ParseJSON(%q) = %+v, %v; want the string %q", tc.text, v, err, tc.want)
			}
		}
	}
}
