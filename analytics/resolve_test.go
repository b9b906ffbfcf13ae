package analytics

import (
	"math"
	"strings"
	"testing"
)

func TestJaroWinkler(t *testing.T) {
	// Reference values from Winkler's papers and the usual test tables.
	cases := []struct {
		a, b string
		want float64
	}{
		{"martha", "marhta", 0.961},
		{"dwayne", "duane", 0.840},
		{"dixon", "dicksonx", 0.813},
		{"abc", "abc", 1},
		{"abc", "xyz", 0},
		{"", "abc", 0},
		{"a", "a", 1},
	}
	for _, c := range cases {
		if got := JaroWinkler(c.a, c.b); math.Abs(got-c.want) > 0.0005 {
			t.Errorf("JaroWinkler(%q, %q) = %.4f; want %.3f", c.a, c.b, got, c.want)
		}
		if got, rev := JaroWinkler(c.a, c.b), JaroWinkler(c.b, c.a); got != rev {
			t.Errorf("JaroWinkler is not symmetric on %q, %q: %g and %g", c.a, c.b, got, rev)
		}
	}
	// The documented threshold separates these.
	if s := JaroWinkler(NormaliseName("Fancy Bear"), NormaliseName("Fancy Bears")); s < 0.88 {
		t.Errorf("Fancy Bear ~ Fancy Bears = %.3f; want >= 0.88", s)
	}
	if s := JaroWinkler(NormaliseName("Sandworm"), NormaliseName("Sandman")); s >= 0.88 {
		t.Errorf("Sandworm ~ Sandman = %.3f; want < 0.88", s)
	}
}

func TestNormaliseName(t *testing.T) {
	for in, want := range map[string]string{
		"APT 28": "apt28", "apt-28": "apt28", "The APT28 Group": "apt28", "Lazarus Group": "lazarus",
		"Group": "group", "": "", "Équipe Ω": "équipeω",
	} {
		if got := NormaliseName(in); got != want {
			t.Errorf("NormaliseName(%q) = %q; want %q", in, got, want)
		}
	}
}

// TestSuggestions: entities from different partners are suggested as
// possibly the same on shared observables and on similar names, with the
// evidence; same-partner pairs, unrelated types and weak evidence are not.
func TestSuggestions(t *testing.T) {
	h := newHarness(t)
	tFRA, iUSA, tFRA2, mFRA, mUSA, mCAN := newID("threat-actor"), newID("intrusion-set"), newID("threat-actor"), newID("malware"), newID("malware"), newID("malware")
	ind1, ind2, ind3 := newID("indicator"), newID("indicator"), newID("indicator")
	shared := "[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'drop.example' OR file:hashes.'SHA-256' = '" + strings.Repeat("ab", 32) + "']"
	h.put(
		obj{sdo("threat-actor", tFRA, "APT 28", "Sofacy"), "GBR OFFICIAL", "FRA"},
		obj{sdo("intrusion-set", iUSA, "Fancy Bear", "apt-28"), "GBR OFFICIAL", "USA"},
		obj{sdo("threat-actor", tFRA2, "Fancy Bears"), "GBR OFFICIAL", "FRA"}, // same partner as tFRA: not paired with it
		obj{sdo("malware", mFRA, "DarkLoader"), "GBR OFFICIAL", "FRA"},
		obj{sdo("malware", mUSA, "QuietStep"), "GBR OFFICIAL", "USA"},
		obj{sdo("malware", mCAN, "Sofacy"), "GBR OFFICIAL", "CAN"}, // a malware named like an actor alias: other type
		obj{indicator(ind1, shared, 70, created), "GBR OFFICIAL", "FRA"},
		obj{indicator(ind2, shared, 70, created), "GBR OFFICIAL", "USA"},
		obj{indicator(ind3, "[ipv4-addr:value = '198.51.100.7']", 70, created), "GBR OFFICIAL", "CAN"},
		obj{relationship(newID("relationship"), "indicates", ind1, mFRA), "GBR OFFICIAL", "FRA"},
		obj{relationship(newID("relationship"), "indicates", ind2, mUSA), "GBR OFFICIAL", "USA"},
		obj{relationship(newID("relationship"), "indicates", ind3, mCAN), "GBR OFFICIAL", "CAN"},
	)
	c := h.build(Options{})
	v := user(t, c, h.rel, "analyst", "OFFICIAL")
	got, err := c.Suggestions(v, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pairs := map[[2]string]Suggestion{}
	for _, s := range got {
		k := [2]string{s.A.Name, s.B.Name}
		if k[0] > k[1] {
			k[0], k[1] = k[1], k[0]
		}
		pairs[k] = s
	}
	apt, ok := pairs[[2]string{"APT 28", "Fancy Bear"}]
	if n := apt.Names; !ok || apt.NameSimilarity != 1 || !(n == [2]string{"APT 28", "apt-28"} || n == [2]string{"apt-28", "APT 28"}) || len(apt.Evidence) != 1 {
		t.Errorf("APT 28 / Fancy Bear suggestion = %+v; want name similarity 1 on APT 28 ~ apt-28", apt)
	}
	if _, ok := pairs[[2]string{"Fancy Bear", "Fancy Bears"}]; !ok {
		t.Errorf("Fancy Bear / Fancy Bears not suggested; got %v", keys(pairs))
	}
	mal, ok := pairs[[2]string{"DarkLoader", "QuietStep"}]
	if !ok || mal.Shared != 3 || mal.Overlap != 1 || mal.NameSimilarity >= 0.88 {
		t.Errorf("DarkLoader / QuietStep = %+v; want 3 shared observables (address, domain, hash), overlap 1", mal)
	}
	for k, s := range pairs {
		if s.A.Originator == s.B.Originator {
			t.Errorf("suggestion %v pairs two entities of %s", k, s.A.Originator)
		}
		if (s.A.Type == "malware") != (s.B.Type == "malware") {
			t.Errorf("suggestion %v pairs a malware with a group", k)
		}
		if s.Score < 0.5 || len(s.Evidence) == 0 {
			t.Errorf("suggestion %v: score %g, evidence %v", k, s.Score, s.Evidence)
		}
	}
	// CAN's malware shares one address with each of the others: overlap
	// 1 (CAN reports that one value only), halved for a single shared
	// value, so 0.5: at the default threshold, and below a stricter one.
	if s, ok := pairs[[2]string{"DarkLoader", "Sofacy"}]; !ok || s.Shared != 1 || s.Score != 0.5 {
		t.Errorf("DarkLoader / Sofacy = %+v, %v; want one shared value, score 0.5", s, ok)
	}
	strict, _ := c.Suggestions(v, ResolveOptions{MinScore: 0.6})
	for _, s := range strict {
		if s.Shared == 1 && s.NameSimilarity < 0.88 {
			t.Errorf("with MinScore 0.6, a single shared value still suggests %s / %s", s.A.Name, s.B.Name)
		}
	}
}

func keys(m map[[2]string]Suggestion) [][2]string {
	var out [][2]string
	for k := range m {
		out = append(out, k)
	}
	return out
}
