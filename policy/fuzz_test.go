package policy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseAgreement: ParseAgreement never panics; it either returns an
// *AgreementError whose problems point into the text, or an agreement that
// passes every check it claims to make.
func FuzzParseAgreement(f *testing.F) {
	fuzzseed.Require(f)
	sch := defaultSchemes()
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseAgreement(data, sch)
		if err != nil {
			var ae *AgreementError
			if !errors.As(err, &ae) || len(ae.Problems) == 0 || !errors.Is(err, tearline.ErrInvalid) {
				t.Fatalf("ParseAgreement(%q) error %T %v; want an *AgreementError with problems", data, err, err)
			}
			// YAML breaks lines at \n, \r\n and a lone \r.
			lines := bytes.Count(bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n")), []byte("\n")) +
				bytes.Count(data, []byte("\r")) - bytes.Count(data, []byte("\r\n")) + 1
			for _, p := range ae.Problems {
				if p.Line < 0 || p.Line > lines || p.Msg == "" {
					t.Fatalf("ParseAgreement(%q): problem %+v is not in the text's %d lines", data, p, lines)
				}
			}
			return
		}
		if ps := checkAgreement(&a, sch, nil); len(ps) > 0 {
			t.Fatalf("ParseAgreement(%q) accepted an agreement that fails its own checks: %v", data, ps)
		}
		if a.ValidFrom.IsZero() || len(a.Ceilings) == 0 || a.Version < 1 {
			t.Fatalf("ParseAgreement(%q) = %+v; a required field is missing", data, a)
		}
		for _, c := range a.Ceilings {
			if _, ok := sch.rank(c.Policy, c.Level); !ok {
				t.Fatalf("ParseAgreement(%q) accepted the unknown ceiling %v", data, c)
			}
		}
		for _, e := range a.Equivalences {
			if _, ok := sch.rank(e.From.Policy, e.From.Level); !ok {
				t.Fatalf("ParseAgreement(%q) accepted the unknown level %v", data, e.From)
			}
			if _, ok := sch.rank(e.To.Policy, e.To.Level); !ok {
				t.Fatalf("ParseAgreement(%q) accepted the unknown level %v", data, e.To)
			}
		}
	})
}
