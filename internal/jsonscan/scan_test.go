package jsonscan

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// valid reads b as one JSON text with a Scanner.
func valid(b []byte) error {
	s := New(b)
	s.WS()
	if err := s.Value(); err != nil {
		return err
	}
	return s.End()
}

// FuzzValid holds the Scanner to encoding/json: it accepts exactly the
// texts json.Valid accepts.
func FuzzValid(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, doc string) {
		err := valid([]byte(doc))
		if want := json.Valid([]byte(doc)); (err == nil) != want {
			t.Fatalf("Scanner on %q: %v; json.Valid says %v", doc, err, want)
		}
	})
}

func TestValid(t *testing.T) {
	for _, c := range []struct {
		doc string
		ok  bool
	}{
		{`{}`, true}, {` [1, -0.5e+10, "a\u00e9\n", true, false, null, {"k": [] }] `, true},
		{`{"a":1,}`, false}, {`[1,]`, false}, {`01`, false}, {`-`, false}, {`1.`, false}, {`1e`, false},
		{`"\x"`, false}, {`"\u12g4"`, false}, {"\"a\x01\"", false}, {`tru`, false}, {`nul`, false},
		{`{"a" 1}`, false}, {`{1:2}`, false}, {`[] []`, false}, {``, false}, {`"unterminated`, false},
		{strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting), true},
		{strings.Repeat("[", MaxNesting+1) + strings.Repeat("]", MaxNesting+1), false},
	} {
		err := valid([]byte(c.doc))
		if (err == nil) != c.ok {
			t.Errorf("%.40q: %v; want ok %v", c.doc, err, c.ok)
		}
		if json.Valid([]byte(c.doc)) != c.ok {
			t.Errorf("%.40q: the case disagrees with json.Valid", c.doc)
		}
	}
}

func TestArraySlices(t *testing.T) {
	doc := []byte(`[ {"a":1} , "x",[2] ]`)
	s := New(doc)
	var got []string
	if err := s.Array(func(raw []byte) { got = append(got, string(raw)) }); err != nil {
		t.Fatal(err)
	}
	if want := []string{`{"a":1}`, `"x"`, `[2]`}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("elements %q, want %q", got, want)
	}
}

// TestPlain holds the eight-byte test to the byte-by-byte one: every byte
// value at every position of a word of plain text, and random words.
func TestPlain(t *testing.T) {
	isPlain := func(b []byte) bool {
		for _, c := range b {
			if c < 0x20 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	word := []byte("abcdefgh")
	for pos := range 8 {
		for v := range 256 {
			w := bytes.Clone(word)
			w[pos] = byte(v)
			if got, want := PlainWord(binary.LittleEndian.Uint64(w)), isPlain(w); got != want {
				t.Errorf("PlainWord(%q) = %v; want %v", w, got, want)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 1_000_000 {
		x := rng.Uint64()
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], x)
		if got, want := PlainWord(x), isPlain(w[:]); got != want {
			t.Fatalf("PlainWord(%q) = %v; want %v", w, got, want)
		}
	}
}
