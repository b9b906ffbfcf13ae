package pattern

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

var update = flag.Bool("update", false, "rewrite the fuzz seeds in testdata/fuzz/FuzzParse from the example tables")

// FuzzParse: Parse never panics and refuses only with a *SyntaxError
// that points into the input; what it accepts prints to a pattern that
// parses to an equal tree and prints the same again.
func FuzzParse(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v; want *SyntaxError", s, err, err)
			}
			if se.Offset < 0 || se.Offset > len(s) || se.Line < 1 || se.Column < 1 || se.Column > se.Offset+1 || se.Msg == "" {
				t.Fatalf("Parse(%q) = %#v; want an offset within the input, a line, a column and a message", s, se)
			}
			return
		}
		out := p.String()
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("Parse(%q) = %v; it is the String of Parse(%q)", out, err, s)
		}
		if !reflect.DeepEqual(again, p) {
			t.Fatalf("Parse(%q) = %s; want the tree of Parse(%q) = %s", out, shape(again.Expr), s, shape(p.Expr))
		}
		if out2 := again.String(); out2 != out {
			t.Fatalf("Parse(%q).String() = %q; want it unchanged", out, out2)
		}
	})
}

// fuzzSeeds returns the seed corpus the example tables call for: every
// example, valid ones named valid-*, refused ones invalid-*.
func fuzzSeeds() map[string]string {
	seeds := map[string]string{}
	for _, e := range allExamples() {
		seeds["valid-"+e.name] = e.in
	}
	for _, e := range invalidExamples {
		seeds["invalid-"+e.name] = e.in
	}
	return seeds
}

// TestFuzzSeeds checks that the committed seed corpus holds every example
// and that each seed is accepted or refused as its name says. With
// -update it rewrites the seeds from the tables.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	want := fuzzSeeds()
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, s := range want {
			body := fmt.Sprintf("go test fuzz v1\nstring(%q)\n", s)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "string(") || !strings.HasSuffix(lines[1], ")") {
			t.Fatalf("%s: not a go test fuzz v1 file with one string", file)
		}
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "string("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := filepath.Base(file)
		have[name] = s
		_, err = Parse(s)
		switch {
		case strings.HasPrefix(name, "valid-") && err != nil:
			t.Errorf("Parse(seed %s = %q) = %v; want it accepted", name, s, err)
		case strings.HasPrefix(name, "invalid-") && err == nil:
			t.Errorf("Parse(seed %s = %q) = nil error; want it refused", name, s)
		}
	}
	for name, s := range want {
		if got, ok := have[name]; !ok || got != s {
			t.Errorf("seed %s/%s is missing or stale; run go test -run TestFuzzSeeds -update", dir, name)
		}
	}
}
