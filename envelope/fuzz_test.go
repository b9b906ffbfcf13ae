package envelope

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// checkRefusal fails unless err is an *Error with one of the reasons.
func checkRefusal(t *testing.T, what string, err error, reasons ...error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !isOneOf(err, reasons...) {
		t.Fatalf("%s = %T %v; want an *Error with one of %v", what, err, err, reasons)
	}
}

// FuzzParse: Parse never panics, refuses with ErrMalformed or
// ErrUnsupportedVersion, and accepts only canonical bytes: what it accepts
// it writes back identically, header included.
func FuzzParse(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			checkRefusal(t, "Parse", err, ErrMalformed, ErrUnsupportedVersion)
			return
		}
		again, err := e.AppendBinary(nil)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("Parse(%x).AppendBinary() = %x, %v; want the input", data, again, err)
		}
		hb, err := e.Header.AppendBinary(nil)
		if err != nil || !bytes.Equal(hb, e.HeaderBytes) {
			t.Fatalf("ParseHeader(%x).AppendBinary() = %x, %v; want the input", e.HeaderBytes, hb, err)
		}
		if e.coreLen < 2 || e.coreLen > len(e.HeaderBytes) || !bytes.Equal(e.Header.appendCore(nil), e.HeaderBytes[:e.coreLen]) {
			t.Fatalf("header core of %d bytes does not match the header's fields", e.coreLen)
		}
	})
}

// FuzzParseProof: ParseProof never panics and accepts only canonical bytes.
func FuzzParseProof(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseProof(data)
		if err != nil {
			checkRefusal(t, "ParseProof", err, ErrMalformed)
			return
		}
		again, err := p.AppendBinary(nil)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("ParseProof(%x).AppendBinary() = %x, %v; want the input", data, again, err)
		}
	})
}

// FuzzParseContent: the decrypted content comes from the sender, who may be
// hostile: parseContent never panics, refuses with ErrMalformed, and what it
// accepts frames back to the same bytes.
func FuzzParseContent(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, plain []byte) {
		want := 1
		if len(plain) >= 4 {
			want = int(min(binary.BigEndian.Uint32(plain), MaxObjects))
		}
		objs, err := parseContent(plain, want)
		if err != nil {
			checkRefusal(t, "parseContent", err, ErrMalformed)
			return
		}
		if len(objs) != want {
			t.Fatalf("parseContent(%x) = %d objects; want %d", plain, len(objs), want)
		}
		again := appendU32(nil, uint32(len(objs)))
		for _, o := range objs {
			again = append(again, o.ContentHash[:]...)
			again = append(again, o.LabelHash[:]...)
			again = appendU32(again, uint32(len(o.JSON)))
			again = append(again, o.JSON...)
		}
		if !bytes.Equal(again, plain) {
			t.Fatalf("parseContent(%x) frames back to %x", plain, again)
		}
	})
}

// TestFuzzSeeds writes the seed corpora with -update, from the test vectors
// and hand-made damaged inputs.
func TestFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz")
	}
	data, err := os.ReadFile(filepath.Join("testdata", "vectors", "three-objects-two-partners.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	env := unhex(t, "envelope", v.Expected.Envelope)
	plain := unhex(t, "plaintext", v.Expected.Plaintext)
	header, _, _ := splitEnvelope(t, env)

	one, err := os.ReadFile(filepath.Join("testdata", "vectors", "one-object.json"))
	if err != nil {
		t.Fatal(err)
	}
	var v1 vector
	if err := json.Unmarshal(one, &v1); err != nil {
		t.Fatal(err)
	}
	env1 := unhex(t, "envelope", v1.Expected.Envelope)

	// withHeader rebuilds env around another header.
	withHeader := func(h []byte) []byte {
		e, err := Parse(env)
		if err != nil {
			t.Fatal(err)
		}
		return appendEnvelope(nil, h, e.Ciphertext, &e.Signature)
	}
	fields, _ := headerFields(t, header)
	at := func(kind string) field {
		for _, f := range fields {
			if f.kind == kind {
				return f
			}
		}
		t.Fatalf("no field %s", kind)
		return field{}
	}
	setHeader := func(kind string, val []byte) []byte {
		f := at(kind)
		h := append([]byte(nil), header...)
		copy(h[f.start:f.end], val)
		return withHeader(h)
	}
	unsorted := func() []byte {
		// Swap the two recipient codes (FRA, NLD): same lengths, wrong order.
		h := append([]byte(nil), header...)
		var rs []field
		for _, f := range fields {
			if f.kind == "recipient" {
				rs = append(rs, f)
			}
		}
		a, b := string(header[rs[0].start:rs[0].end]), string(header[rs[1].start:rs[1].end])
		copy(h[rs[0].start:], b)
		copy(h[rs[1].start:], a)
		return withHeader(h)
	}

	writeSeeds(t, "FuzzParse", map[string][]byte{
		"valid-one-object":          env1,
		"valid-three-objects":       env,
		"empty":                     {},
		"magic-only":                []byte(magic),
		"bad-magic":                 append([]byte("\x89TLENV\n\n"), env[8:]...),
		"truncated-in-header":       env[:200],
		"truncated-in-signature":    env[:len(env)-10],
		"trailing-byte":             append(append([]byte(nil), env...), 0),
		"huge-header-length":        append(append([]byte(magic), 0xff, 0xff, 0xff, 0xff), env[12:]...),
		"version-2":                 setHeader("version", []byte{0, 2}),
		"object-count-zero":         setHeader("object-count", []byte{0, 0, 0, 0}),
		"recipient-count-huge":      setHeader("recipient-count", []byte{0xff, 0xff}),
		"recipients-unsorted":       unsorted(),
		"sender-lowercase":          setHeader("sender", []byte("gbr")),
		"wrapped-data-length-short": setHeader("wrapped-data-len", []byte{0, 1}),
	})

	proof1 := unhex(t, "proof", v.Proofs[1].Proof)
	writeSeeds(t, "FuzzParseProof", map[string][]byte{
		"valid-index-1":      proof1,
		"valid-index-0":      unhex(t, "proof", v.Proofs[0].Proof),
		"empty":              {},
		"path-count-too-big": append(append([]byte(nil), proof1[:36]...), 3),
		"index-too-large":    append([]byte{0xff, 0xff, 0xff, 0xff}, proof1[4:]...),
		"trailing-byte":      append(append([]byte(nil), proof1...), 0),
		"path-65":            append(append([]byte(nil), proof1[:36]...), 65),
	})

	zeroLen := append([]byte(nil), plain...)
	clear(zeroLen[4+64 : 4+68])
	writeSeeds(t, "FuzzParseContent", map[string][]byte{
		"valid-three-objects": plain,
		"empty":               {},
		"count-only":          plain[:4],
		"truncated":           plain[:len(plain)-1],
		"trailing-byte":       append(append([]byte(nil), plain...), 0),
		"zero-length-object":  zeroLen,
		"huge-count":          append([]byte{0xff, 0xff, 0xff, 0xff}, plain[4:]...),
	})
}

func writeSeeds(t *testing.T, name string, seeds map[string][]byte) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", name)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for seed, data := range seeds {
		body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, seed), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSeedOutcomes checks that the seeds are what their names say: the
// valid ones are accepted, the others refused.
func TestSeedOutcomes(t *testing.T) {
	parsers := map[string]func([]byte) error{
		"FuzzParse":      func(b []byte) error { _, err := Parse(b); return err },
		"FuzzParseProof": func(b []byte) error { _, err := ParseProof(b); return err },
		"FuzzParseContent": func(b []byte) error {
			want := 1
			if len(b) >= 4 {
				want = int(min(binary.BigEndian.Uint32(b), MaxObjects))
			}
			_, err := parseContent(b, want)
			return err
		},
	}
	for name, parse := range parsers {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", name, "*"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 5 {
			t.Errorf("%s has %d seeds; want at least 5", name, len(files))
		}
		for _, file := range files {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
			if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
				t.Fatalf("%s: not a go test fuzz v1 file with one []byte", file)
			}
			s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			err = parse([]byte(s))
			if valid := strings.HasPrefix(filepath.Base(file), "valid-"); valid != (err == nil) {
				t.Errorf("%s(seed %s) = %v; want valid=%v", name, filepath.Base(file), err, valid)
			}
		}
	}
}
