package label

import (
	"testing"

	"github.com/tearline/tearline"
)

const benchBanner = "GBR SECRET//ORCON//REL TO USA, GBR, FVEY//H2//TLP:AMBER//ORIGINATOR GBR//PURPOSE counter-terrorism"

func BenchmarkParse(b *testing.B) {
	for b.Loop() {
		if _, err := Parse(benchBanner); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormat(b *testing.B) {
	l, _ := Parse(benchBanner)
	for b.Loop() {
		Format(l)
	}
}

func BenchmarkRank(b *testing.B) {
	s, _ := LookupScheme("NATO")
	for b.Loop() {
		if _, ok := s.Rank("NATO SECRET"); !ok {
			b.Fatal("NATO SECRET unknown")
		}
	}
}

func BenchmarkFromObject(b *testing.B) {
	l, _ := Parse(benchBanner)
	defs, refs, err := ToMarkings(l)
	if err != nil {
		b.Fatal(err)
	}
	d := Definitions{}
	for _, def := range defs {
		if err := d.Add(def); err != nil {
			b.Fatal(err)
		}
	}
	obj := markedObject(refs...)
	for b.Loop() {
		if _, err := FromObject(obj, d); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRollUp(b *testing.B) {
	parts := make([]tearline.Label, 0, 3)
	for _, banner := range []string{benchBanner, "SECRET//REL TO USA, ACGU//H0", "NATO SECRET//REL TO USA, GBR, FRA"} {
		l, err := Parse(banner)
		if err != nil {
			b.Fatal(err)
		}
		parts = append(parts, l)
	}
	r := Roller{Equivalences: natoEquivalences}
	for b.Loop() {
		r.RollUp(parts...)
	}
}
