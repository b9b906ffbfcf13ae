package policy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// TestExamples: every example parses, validates against the built-in
// registry and compiles into an engine.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	if err != nil || len(files) < 4 {
		t.Fatalf("examples: %v, %v; want at least 4", files, err)
	}
	var all []tearline.Agreement
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a, err := ParseAgreement(data)
		if err != nil {
			t.Errorf("ParseAgreement(%s) = %v", f, err)
			continue
		}
		if err := ValidateAgreement(a, Builtin()); err != nil {
			t.Errorf("ValidateAgreement(%s) = %v", f, err)
		}
		all = append(all, a)
	}
	if _, err := NewEngine(Builtin(), all); err != nil {
		t.Errorf("NewEngine(examples) = %v", err)
	}
}

func readExample(t *testing.T, name string) tearline.Agreement {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("examples", name))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAgreement(data)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestExampleContents: what the examples say reaches the Agreement.
func TestExampleContents(t *testing.T) {
	a := readExample(t, "gbr-fra.yaml")
	if a.ID != "gbr-fra-security" || a.Version != 1 || !slices.Equal(a.Parties, []string{"GBR", "FRA"}) ||
		!a.ValidFrom.Equal(date("2008-03-27")) || !a.ValidUntil.Equal(date("2033-03-27")) || !a.ThirdPartyRule {
		t.Errorf("ParseAgreement(gbr-fra.yaml) = %+v", a)
	}
	// The alias TRÈS SECRET is stored in its canonical form.
	want := tearline.Equivalence{From: tearline.Classification{Policy: "GBR", Level: "TOP SECRET"}, To: tearline.Classification{Policy: "FRA", Level: "TRES SECRET"}}
	if !slices.Contains(a.Equivalences, want) {
		t.Errorf("ParseAgreement(gbr-fra.yaml).Equivalences = %v; want it to hold %v", a.Equivalences, want)
	}
	if want := []tearline.Classification{{Policy: "FRA", Level: "SECRET"}, {Policy: "GBR", Level: "SECRET"}}; !slices.Equal(a.Ceilings, want) {
		t.Errorf("ParseAgreement(gbr-fra.yaml).Ceilings = %v; want %v", a.Ceilings, want)
	}

	p := readExample(t, "police.yaml")
	if p.Retention != 5*365*24*time.Hour || !slices.Equal(p.PersonalDataRegimes, []string{"LED"}) ||
		!slices.Equal(p.Purposes, []string{PurposeCombatingCrime, PurposeJudicial}) {
		t.Errorf("ParseAgreement(police.yaml) = %+v", p)
	}
	// A row of n levels gives n(n-1)/2 equivalences.
	if n := len(readExample(t, "nato.yaml").Equivalences); n != 21+21+36+36 {
		t.Errorf("ParseAgreement(nato.yaml) has %d equivalences; want %d", n, 21+21+36+36)
	}
}

// TestExampleDecisions: the bilateral example with its equivalence table
// at work.
func TestExampleDecisions(t *testing.T) {
	e, err := NewEngine(Builtin(), []tearline.Agreement{readExample(t, "gbr-fra.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		level string
		held  []string
		want  tearline.Outcome
	}{
		{"SECRET", []string{"DIFFUSION RESTREINTE", "SECRET"}, tearline.Allow},
		{"SECRET", []string{"DIFFUSION RESTREINTE"}, tearline.Deny},
		{"OFFICIAL-SENSITIVE", []string{"DIFFUSION RESTREINTE"}, tearline.Allow},
		{"TOP SECRET", []string{"DIFFUSION RESTREINTE", "SECRET", "TRES SECRET"}, tearline.Deny},
	} {
		req := &Request{
			Subject: &Subject{ID: "report--1", Type: "report", Topics: []string{"defence"}, Created: date("2024-01-01"), Verified: true, Holder: "GBR",
				Label: tearline.Label{Policy: "GBR", Classification: c.level, Categories: []tearline.Category{relTo("FRA", "GBR")}}},
			Recipient: partner("FRA", clearance("FRA", c.held...)),
			Action:    tearline.Release,
			Time:      date("2025-01-01"),
		}
		if d := e.Decide(req); d.Outcome != c.want {
			t.Errorf("Decide(GBR %s to FRA holding %v) = %v %q; want %v", c.level, c.held, d.Outcome, d.Reasons, c.want)
		}
	}
}

// TestSchemaKeys: the JSON schema and the parser know the same keys.
func TestSchemaKeys(t *testing.T) {
	data, err := os.ReadFile("agreement.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(data, &schema); err != nil {
		t.Fatalf("agreement.schema.json: %v", err)
	}
	var keys []string
	for k := range schema.Properties {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := slices.Sorted(slices.Values(agreementKeys))
	if !slices.Equal(keys, want) {
		t.Errorf("schema properties = %v; the parser reads %v", keys, want)
	}
	// What the schema requires, an empty document lacks, and the parser
	// says so.
	_, err = ParseAgreement([]byte("title: x\n"))
	for _, k := range schema.Required {
		if k != "title" && !strings.Contains(err.Error(), k+": is required") {
			t.Errorf("ParseAgreement(without %s) = %v; want %s reported as required", k, err, k)
		}
	}
}

const goodAgreement = `id: gbr-fra
version: 2
title: UK-France
parties: [GBR, FRA]
valid_from: 2024-01-01
valid_until: 2028-01-01
ceilings:
  GBR: SECRET
  FRA: SECRET
equivalences:
  - {GBR: SECRET, FRA: SECRET}
third_party_rule: true
`

func TestParseAgreement(t *testing.T) {
	a, err := ParseAgreement([]byte(goodAgreement))
	if err != nil {
		t.Fatalf("ParseAgreement(good) = %v", err)
	}
	want := tearline.Agreement{
		ID: "gbr-fra", Version: 2, Title: "UK-France", Parties: []string{"GBR", "FRA"},
		ValidFrom: date("2024-01-01"), ValidUntil: date("2028-01-01"),
		Ceilings:       []tearline.Classification{{Policy: "FRA", Level: "SECRET"}, {Policy: "GBR", Level: "SECRET"}},
		Equivalences:   eq("GBR", "SECRET", "FRA", "SECRET"),
		ThirdPartyRule: true,
	}
	if !agreementsEqual(a, want) {
		t.Errorf("ParseAgreement(good) = %+v; want %+v", a, want)
	}
	rfc, err := ParseAgreement([]byte(strings.Replace(goodAgreement, "2024-01-01", "2024-01-01T12:30:00+02:00", 1)))
	if err != nil || !rfc.ValidFrom.Equal(time.Date(2024, 1, 1, 10, 30, 0, 0, time.UTC)) {
		t.Errorf("ParseAgreement(RFC 3339 valid_from) = %v, %v", rfc.ValidFrom, err)
	}
}

func agreementsEqual(a, b tearline.Agreement) bool {
	return a.ID == b.ID && a.Version == b.Version && a.Title == b.Title && slices.Equal(a.Parties, b.Parties) &&
		a.ValidFrom.Equal(b.ValidFrom) && a.ValidUntil.Equal(b.ValidUntil) && a.ReviewBy.Equal(b.ReviewBy) &&
		slices.Equal(a.Types, b.Types) && slices.Equal(a.Topics, b.Topics) && slices.Equal(a.Ceilings, b.Ceilings) &&
		slices.Equal(a.Equivalences, b.Equivalences) && a.ThirdPartyRule == b.ThirdPartyRule &&
		slices.Equal(a.Purposes, b.Purposes) && a.Retention == b.Retention &&
		slices.Equal(a.PersonalDataRegimes, b.PersonalDataRegimes) && slices.Equal(a.OnwardApprovers, b.OnwardApprovers)
}

// TestParseAgreementErrors: each mistake is reported with its line, its
// field and what to do.
func TestParseAgreementErrors(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(goodAgreement, old) {
			t.Fatalf("%q not in the good agreement", old)
		}
		return strings.Replace(goodAgreement, old, new, 1)
	}
	for _, c := range []struct {
		name, yaml string
		line       int
		field      string
		says       string
	}{
		{"unknown key", goodAgreement + "ceiling: SECRET\n", 13, "ceiling", "unknown key"},
		{"unknown scope key", goodAgreement + "scope:\n  type: [report]\n", 14, "scope.type", "unknown key"},
		{"dates out of order", replace("valid_until: 2028-01-01", "valid_until: 2023-01-01"), 6, "valid_until", "not after valid_from"},
		{"review after the end", replace("valid_until: 2028-01-01", "valid_until: 2028-01-01\nreview_by: 2029-01-01"), 7, "review_by", "after valid_until"},
		{"not a date", replace("valid_from: 2024-01-01", "valid_from: 01/02/2024"), 5, "valid_from", "write 2024-01-31"},
		{"fractional version", replace("version: 2", "version: 2.5"), 2, "version", "whole number"},
		{"version zero", replace("version: 2", "version: 0"), 2, "version", "from 1"},
		{"version as text", replace("version: 2", "version: two"), 2, "version", "whole number"},
		{"duplicate key", replace("title: UK-France", "title: UK-France\ntitle: again"), 4, "", "already defined"},
		{"unknown policy", replace("  FRA: SECRET\nequivalences", "  ATL: SECRET\nequivalences"), 9, "ceilings.ATL", "not a known classification policy"},
		{"unknown level", replace("  GBR: SECRET\n  FRA", "  GBR: CONFIDENTIAL\n  FRA"), 8, "ceilings.GBR", "use one of: OFFICIAL, OFFICIAL-SENSITIVE, SECRET, TOP SECRET"},
		{"row of one", replace("{GBR: SECRET, FRA: SECRET}", "{GBR: SECRET}"), 11, "equivalences[0]", "at least two policies"},
		{"level in two rows", replace("{GBR: SECRET, FRA: SECRET}", "{GBR: SECRET, FRA: SECRET}\n  - {GBR: SECRET, DEU: GEHEIM}"), 12, "equivalences[1].GBR", "one row only"},
		{"table inverts levels", replace("{GBR: SECRET, FRA: SECRET}", "{GBR: SECRET, FRA: SECRET}\n  - {GBR: TOP SECRET, FRA: DIFFUSION RESTREINTE}"), 12, "equivalences[1]", "inverts the order"},
		{"third-party rule missing", replace("third_party_rule: true\n", ""), 0, "third_party_rule", "say true or false"},
		{"third-party rule as text", replace("third_party_rule: true", "third_party_rule: yes"), 12, "third_party_rule", "true or false"},
		{"party not a code", replace("[GBR, FRA]", "[GBR, france]"), 4, "parties[1]", "not a partner or community code"},
		{"party twice", replace("[GBR, FRA]", "[GBR, FRA, GBR]"), 4, "parties[2]", "listed twice"},
		{"parties not a list", replace("[GBR, FRA]", "GBR"), 4, "parties", "must be a list"},
		{"bad id", replace("id: gbr-fra", "id: gbr fra@1"), 1, "id", "is not an id"},
		{"bad retention", goodAgreement + "retention: forever\n", 13, "retention", "90d"},
		{"anchor", replace("parties: [GBR, FRA]", "parties: &p [GBR, FRA]"), 4, "parties", "anchors and aliases"},
		{"tag", replace("title: UK-France", "title: !!str UK-France"), 3, "title", "tags are not allowed"},
		{"two documents", goodAgreement + "---\n" + goodAgreement, 14, "", "put each agreement in a file of its own"},
		{"empty", "", 0, "", "the file is empty"},
		{"comment only", "# nothing\n", 0, "", "the file is empty"},
		{"not a mapping", "- id: x\n", 1, "", "must be a mapping"},
		{"not YAML", "id: [x\n", 1, "", "not valid YAML"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseAgreement([]byte(c.yaml))
			var ae *AgreementError
			if !errors.As(err, &ae) || !errors.Is(err, tearline.ErrInvalid) {
				t.Fatalf("ParseAgreement(%s) = %v; want an *AgreementError wrapping ErrInvalid", c.name, err)
			}
			found := false
			for _, p := range ae.Problems {
				if p.Line == c.line && p.Field == c.field && strings.Contains(p.Msg, c.says) {
					found = true
				}
			}
			if !found {
				t.Errorf("ParseAgreement(%s) = %v; want line %d, field %q saying %q", c.name, err, c.line, c.field, c.says)
			}
		})
	}
}

func TestValidateAgreement(t *testing.T) {
	a, err := ParseAgreement([]byte(goodAgreement))
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateAgreement(a, Builtin()); err != nil {
		t.Errorf("ValidateAgreement(good) = %v", err)
	}
	for _, c := range []struct {
		name  string
		edit  func(a *tearline.Agreement)
		field string
	}{
		{"unknown party", func(a *tearline.Agreement) { a.Parties = []string{"GBR", "ATL"} }, "parties[1]"},
		{"a single partner", func(a *tearline.Agreement) { a.Parties = []string{"GBR"} }, "parties"},
		{"alias level", func(a *tearline.Agreement) {
			a.Ceilings = []tearline.Classification{{Policy: "FRA", Level: "secret défense"}}
		}, "ceilings.FRA"},
		{"no ceilings", func(a *tearline.Agreement) { a.Ceilings = nil }, "ceilings"},
		{"equivalence within one policy", func(a *tearline.Agreement) { a.Equivalences = eq("GBR", "SECRET", "GBR", "TOP SECRET") }, "equivalences[0]"},
		{"contradictory equivalences", func(a *tearline.Agreement) {
			a.Equivalences = eq("GBR", "SECRET", "FRA", "SECRET", "FRA", "TRES SECRET", "GBR", "SECRET")
		}, "equivalences[1]"},
		{"negative retention", func(a *tearline.Agreement) { a.Retention = -time.Hour }, "retention"},
		{"no start", func(a *tearline.Agreement) { a.ValidFrom = time.Time{} }, "valid_from"},
	} {
		b := a
		c.edit(&b)
		err := ValidateAgreement(b, Builtin())
		var ae *AgreementError
		if !errors.As(err, &ae) || !slices.ContainsFunc(ae.Problems, func(p Problem) bool { return p.Field == c.field && p.Line == 0 }) {
			t.Errorf("ValidateAgreement(%s) = %v; want a problem at %s", c.name, err, c.field)
		}
	}
	single := a
	single.Parties = []string{"NATO"}
	if err := ValidateAgreement(single, Builtin()); err != nil {
		t.Errorf("ValidateAgreement(parties: [NATO]) = %v; a community alone is enough", err)
	}
	if err := ValidateAgreement(a, nil); err == nil {
		t.Error("ValidateAgreement(good, nil registry) = nil; want an error")
	}
	if _, err := NewEngine(Builtin(), []tearline.Agreement{single, {ID: "bad"}}); err == nil {
		t.Error("NewEngine(an invalid agreement) = nil error")
	}
}
