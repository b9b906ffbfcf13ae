package label

import (
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/tearline/tearline"
)

func TestSchemeLevels(t *testing.T) {
	want := map[string][]string{
		"NATO": {"NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET", "COSMIC TOP SECRET"},
		"EU":   {"RESTREINT UE/EU RESTRICTED", "CONFIDENTIEL UE/EU CONFIDENTIAL", "SECRET UE/EU SECRET", "TRES SECRET UE/EU TOP SECRET"},
		"USA":  {"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"},
		"GBR":  {"OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET", "TOP SECRET"},
		"CAN":  {"UNCLASSIFIED", "CONFIDENTIAL", "SECRET", "TOP SECRET"},
		"AUS":  {"UNOFFICIAL", "OFFICIAL", "OFFICIAL: SENSITIVE", "PROTECTED", "SECRET", "TOP SECRET"},
		"NZL":  {"UNCLASSIFIED", "IN-CONFIDENCE", "SENSITIVE", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET"},
		"FRA":  {"DIFFUSION RESTREINTE", "SECRET", "TRES SECRET"},
		"DEU":  {"VS-NUR FÜR DEN DIENSTGEBRAUCH", "VS-VERTRAULICH", "GEHEIM", "STRENG GEHEIM"},
		"NLD":  {"DEPARTEMENTAAL VERTROUWELIJK", "STG. CONFIDENTIEEL", "STG. GEHEIM", "STG. ZEER GEHEIM"},
		"ITA":  {"RISERVATO", "RISERVATISSIMO", "SEGRETO", "SEGRETISSIMO"},
		"ESP":  {"DIFUSION LIMITADA", "CONFIDENCIAL", "RESERVADO", "SECRETO"},
		"JPN":  {"HI", "GOKUHI", "KIMITSU"},
	}
	for policy, levels := range want {
		s, ok := LookupScheme(policy)
		if !ok {
			t.Errorf("LookupScheme(%q) = _, false; want the built-in scheme", policy)
			continue
		}
		if s.Policy != policy {
			t.Errorf("LookupScheme(%q).Policy = %q", policy, s.Policy)
		}
		if got := s.Levels(); !slices.Equal(got, levels) {
			t.Errorf("LookupScheme(%q).Levels() = %q; want %q", policy, got, levels)
		}
		for i, l := range levels {
			if r, ok := s.Rank(l); !ok || r != i {
				t.Errorf("%s.Rank(%q) = %d, %v; want %d, true", policy, l, r, ok, i)
			}
		}
	}
	if n := len(Schemes()); n < len(want) {
		t.Errorf("Schemes() lists %d schemes; want at least %d", n, len(want))
	}
}

func TestRank(t *testing.T) {
	cases := []struct {
		policy, level string
		rank          int
		ok            bool
	}{
		{"NATO", "NS", 3, true},
		{"NATO", "nato  secret", 3, true},
		{"NATO", "CTS", 4, true},
		{"EU", "EU RESTRICTED", 0, true},
		{"EU", "RESTREINT UE", 0, true},
		{"EU", "TRÈS SECRET UE", 3, true},
		{"GBR", "OFFICIAL SENSITIVE", 1, true},
		{"FRA", "CONFIDENTIEL DÉFENSE", 1, true}, // became SECRET in 2021
		{"FRA", "TRES SECRET DEFENSE", 2, true},
		{"DEU", "VS-NFD", 0, true},
		{"DEU", "vs-nur für den dienstgebrauch", 0, true},
		{"JPN", "機密", 2, true},
		{"USA", "SECRET", 2, true},
		{"USA", "NATO SECRET", 0, false},
		{"GBR", "CONFIDENTIAL", 0, false}, // retired in 2014
		{"GBR", "", 0, false},
	}
	for _, c := range cases {
		s, _ := LookupScheme(c.policy)
		r, ok := s.Rank(c.level)
		if r != c.rank || ok != c.ok {
			t.Errorf("LookupScheme(%q).Rank(%q) = %d, %v; want %d, %v", c.policy, c.level, r, ok, c.rank, c.ok)
		}
	}
}

// TestUnknownFailsClosed: unknown policies and levels are never ok.
func TestUnknownFailsClosed(t *testing.T) {
	for _, p := range []string{"", "XYZ", "gbr", "UK", "NATO "} {
		if s, ok := LookupScheme(p); ok {
			t.Errorf("LookupScheme(%q) = %v, true; want not ok", p, s.Policy)
		}
	}
	var s *Scheme
	if r, ok := s.Rank("SECRET"); ok {
		t.Errorf("(*Scheme)(nil).Rank(SECRET) = %d, true; want not ok", r)
	}
	if s.Levels() != nil {
		t.Errorf("(*Scheme)(nil).Levels() = %q; want nil", s.Levels())
	}
	// An unregistered scheme ranks from its Scale.
	adhoc := &Scheme{Policy: "ADHOC", Scale: []Level{{Name: "LOW"}, {Name: "HIGH", Aliases: []string{"H"}}}}
	if r, ok := adhoc.Rank("h"); !ok || r != 1 {
		t.Errorf("adhoc.Rank(h) = %d, %v; want 1, true", r, ok)
	}
	if _, ok := adhoc.Rank("MEDIUM"); ok {
		t.Errorf("adhoc.Rank(MEDIUM) is ok; want not ok")
	}
}

func TestRegisterScheme(t *testing.T) {
	ectc := &Scheme{Policy: "ECTC", Name: "European counter-terrorism group", Prefixes: []string{"CTG"}, Scale: []Level{
		{Name: "basic", Unclassified: true}, {Name: "Restricted", Aliases: []string{"R"}}, {Name: "CONFIDENTIAL"},
	}}
	if err := RegisterScheme(ectc); err != nil {
		t.Fatalf("RegisterScheme(ECTC) = %v", err)
	}
	s, ok := LookupScheme("ECTC")
	if !ok {
		t.Fatal("LookupScheme(ECTC) not ok after RegisterScheme")
	}
	if got, want := s.Levels(), []string{"BASIC", "RESTRICTED", "CONFIDENTIAL"}; !slices.Equal(got, want) {
		t.Errorf("ECTC levels = %q; want %q", got, want)
	}
	if r, ok := s.Rank("r"); !ok || r != 1 {
		t.Errorf("ECTC.Rank(r) = %d, %v; want 1, true", r, ok)
	}
	if err := RegisterScheme(ectc); err != nil {
		t.Errorf("registering the same scheme again = %v; want nil", err)
	}
	l, err := Parse("CTG R//H2")
	if err != nil || l.Policy != "ECTC" || l.Classification != "RESTRICTED" || Format(l) != "ECTC RESTRICTED//H2" {
		t.Errorf("Parse(CTG R//H2) = %+v, %v (%q); want ECTC RESTRICTED, written ECTC RESTRICTED//H2", l, err, Format(l))
	}

	refused := []struct {
		name string
		s    *Scheme
		want error
	}{
		{"redefine NATO", &Scheme{Policy: "NATO", Name: "mine", Scale: []Level{{Name: "X"}}}, tearline.ErrExists},
		{"redefine GBR", &Scheme{Policy: "GBR", Name: "UK", Scale: []Level{{Name: "OFFICIAL"}}}, tearline.ErrExists},
		{"change ECTC", &Scheme{Policy: "ECTC", Name: "other", Scale: []Level{{Name: "X"}}}, tearline.ErrExists},
		{"nil", nil, tearline.ErrInvalid},
		{"lower-case policy", &Scheme{Policy: "ectx", Name: "x", Scale: []Level{{Name: "X"}}}, tearline.ErrInvalid},
		{"reserved policy", &Scheme{Policy: "TLP", Name: "x", Scale: []Level{{Name: "X"}}}, tearline.ErrInvalid},
		{"reserved prefix", &Scheme{Policy: "ABCD", Name: "x", Prefixes: []string{"REL"}, Scale: []Level{{Name: "X"}}}, tearline.ErrInvalid},
		{"prefix of another", &Scheme{Policy: "ABCE", Name: "x", Prefixes: []string{"UK"}, Scale: []Level{{Name: "X"}}}, tearline.ErrInvalid},
		{"bare", &Scheme{Policy: "ABCF", Name: "x", Bare: true, Scale: []Level{{Name: "X"}}}, tearline.ErrInvalid},
		{"no name", &Scheme{Policy: "ABCG", Scale: []Level{{Name: "X"}}}, tearline.ErrInvalid},
		{"no levels", &Scheme{Policy: "ABCH", Name: "x"}, tearline.ErrInvalid},
		{"level twice", &Scheme{Policy: "ABCI", Name: "x", Scale: []Level{{Name: "X"}, {Name: "Y", Aliases: []string{"x"}}}}, tearline.ErrInvalid},
		{"separator in level", &Scheme{Policy: "ABCJ", Name: "x", Scale: []Level{{Name: "X//Y"}}}, tearline.ErrInvalid},
		{"comma in level", &Scheme{Policy: "ABCK", Name: "x", Scale: []Level{{Name: "X, Y"}}}, tearline.ErrInvalid},
		{"level ending in slash", &Scheme{Policy: "ABCL", Name: "x", Scale: []Level{{Name: "X/"}}}, tearline.ErrInvalid},
	}
	for _, c := range refused {
		if err := RegisterScheme(c.s); !errors.Is(err, c.want) {
			t.Errorf("RegisterScheme(%s) = %v; want %v", c.name, err, c.want)
		}
	}
	if s, _ := LookupScheme("NATO"); s.Levels()[0] != "NATO UNCLASSIFIED" {
		t.Errorf("NATO changed after a refused redefinition: %q", s.Levels())
	}
}

func TestRegisterSchemeConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			RegisterScheme(&Scheme{Policy: "CONC", Name: "concurrent", Scale: []Level{{Name: "LOW"}, {Name: "HIGH"}}})
			if s, ok := LookupScheme("CONC"); ok {
				s.Rank("HIGH")
			}
			Parse("NATO SECRET//REL TO GBR")
		}()
	}
	wg.Wait()
	if s, ok := LookupScheme("CONC"); !ok || len(s.Levels()) != 2 {
		t.Errorf("LookupScheme(CONC) after concurrent registration = %v, %v", s, ok)
	}
}
