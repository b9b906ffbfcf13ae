package analytics

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func TestAssess(t *testing.T) {
	tests := []struct {
		name  string
		e     Evidence
		score int
		band  string
		basis string
	}{
		{"nothing known", Evidence{Confidence: ConfidenceUnknown, Corroboration: 1}, 35, "medium", "unknown"},
		{"F6 is the same as ungraded", Evidence{Confidence: ConfidenceUnknown, Reliability: 'F', Credibility: 6, Corroboration: 1}, 35, "medium", "unknown"},
		{"no corroboration count", Evidence{Confidence: ConfidenceUnknown}, 35, "medium", "unknown"},
		{"A1 with confidence 90", Evidence{Confidence: 90, Reliability: 'A', Credibility: 1, Corroboration: 1}, 90, "high", "confidence and credibility"},
		{"A with confidence 100", Evidence{Confidence: 100, Reliability: 'A', Corroboration: 1}, 100, "high", "confidence"},
		{"A1 without confidence", Evidence{Confidence: ConfidenceUnknown, Reliability: 'A', Credibility: 1}, 90, "high", "credibility"},
		{"E5", Evidence{Confidence: ConfidenceUnknown, Reliability: 'E', Credibility: 5, Corroboration: 1}, 4, "low", "credibility"},
		{"confidence 0", Evidence{Confidence: 0, Corroboration: 1}, 0, "none", "confidence"},
		{"C3 with confidence 50", Evidence{Confidence: 50, Reliability: 'C', Credibility: 3}, 40, "medium", "confidence and credibility"},
		{"D4", Evidence{Confidence: ConfidenceUnknown, Reliability: 'D', Credibility: 4}, 18, "low", "credibility"},
		{"two originators", Evidence{Confidence: ConfidenceUnknown, Corroboration: 2}, 50, "medium", "unknown"},
		{"nine originators", Evidence{Confidence: ConfidenceUnknown, Corroboration: 9}, 89, "high", "unknown"},
		{"saturated at nine", Evidence{Confidence: ConfidenceUnknown, Corroboration: 1000}, 89, "high", "unknown"},
		{"corroboration never lowers", Evidence{Confidence: 100, Reliability: 'A', Corroboration: 5}, 100, "high", "confidence"},
		{"E5 corroborated widely", Evidence{Confidence: ConfidenceUnknown, Reliability: 'E', Credibility: 5, Corroboration: 50}, 86, "high", "credibility"},
		{"one half-life", Evidence{Confidence: 90, Reliability: 'A', Credibility: 1, Observed: now.Add(-30 * day)}, 45, "medium", "confidence and credibility"},
		{"half-life given", Evidence{Confidence: 90, Reliability: 'A', Credibility: 1, Observed: now.Add(-7 * day), HalfLife: 7 * day}, 45, "medium", "confidence and credibility"},
		{"very old", Evidence{Confidence: 90, Reliability: 'A', Credibility: 1, Corroboration: 9, Observed: now.Add(-10 * 365 * day)}, 0, "none", "confidence and credibility"},
		{"observed in the future", Evidence{Confidence: 90, Reliability: 'A', Credibility: 1, Observed: now.Add(time.Hour)}, 90, "high", "confidence and credibility"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			e.Now = now
			if e.Observed.IsZero() {
				e.Observed = now
			}
			a, err := Assess(e)
			if err != nil {
				t.Fatalf("Assess(%+v) = %v", e, err)
			}
			if a.Score != tt.score || a.Band() != tt.band || a.InformationBasis != tt.basis {
				t.Fatalf("Assess(%+v) = score %d, band %s, basis %q; want %d, %s, %q (%+v)", e, a.Score, a.Band(), a.InformationBasis, tt.score, tt.band, tt.basis, a)
			}
			if a.Score < 0 || a.Score > 100 || a.Value < 0 || a.Value > 1 {
				t.Fatalf("Assess(%+v) = %+v; out of range", e, a)
			}
		})
	}
}

// TestAssessTerms checks every term of one worked example, the one in
// docs/confidence.md.
func TestAssessTerms(t *testing.T) {
	e := Evidence{Confidence: 80, Reliability: 'B', Credibility: 2, Corroboration: 3, Observed: now.Add(-15 * day), Now: now}
	a, err := Assess(e)
	if err != nil {
		t.Fatal(err)
	}
	want := e
	want.HalfLife = DefaultHalfLife
	if a.Evidence != want {
		t.Errorf("Assess().Evidence = %+v; want the inputs %+v with the half-life resolved", a.Evidence, want)
	}
	for _, tt := range []struct {
		name      string
		got, want float64
	}{
		{"Information", a.Information, 0.75},
		{"SourceWeight", a.SourceWeight, 0.9},
		{"Source", a.Source, 0.675},
		{"CorroborationGain", a.CorroborationGain, 0.4375},
		{"Combined", a.Combined, 0.7953125},
		{"Decay", a.Decay, math.Sqrt2 / 2},
		{"Value", a.Value, 0.7953125 * math.Sqrt2 / 2},
	} {
		if math.Abs(tt.got-tt.want) > 1e-9 {
			t.Errorf("Assess().%s = %v; want %v", tt.name, tt.got, tt.want)
		}
	}
	if a.Age != 15*day || a.Score != 56 {
		t.Errorf("Assess() age %v, score %d; want 360h, 56", a.Age, a.Score)
	}
}

// TestAssessMonotone: a better grade, more corroboration or a fresher
// report never lowers the score.
func TestAssessMonotone(t *testing.T) {
	score := func(e Evidence) int {
		e.Now = now
		if e.Observed.IsZero() {
			e.Observed = now
		}
		a, err := Assess(e)
		if err != nil {
			t.Fatal(err)
		}
		return a.Score
	}
	for _, conf := range []int{ConfidenceUnknown, 0, 40, 100} {
		for cred := 1; cred <= 5; cred++ {
			prev := -1
			for _, rel := range []byte("EDCBA") {
				s := score(Evidence{Confidence: conf, Reliability: rel, Credibility: cred})
				if s < prev {
					t.Errorf("reliability %c scores %d below the grade under it (%d)", rel, s, prev)
				}
				prev = s
			}
		}
		prev := -1
		for n := 0; n <= 12; n++ {
			s := score(Evidence{Confidence: conf, Corroboration: n})
			if s < prev {
				t.Errorf("corroboration %d scores %d below %d", n, s, prev)
			}
			prev = s
		}
	}
}

func TestAssessErrors(t *testing.T) {
	ok := Evidence{Confidence: ConfidenceUnknown, Now: now, Observed: now}
	tests := []struct {
		name   string
		change func(*Evidence)
	}{
		{"confidence 101", func(e *Evidence) { e.Confidence = 101 }},
		{"confidence -2", func(e *Evidence) { e.Confidence = -2 }},
		{"reliability G", func(e *Evidence) { e.Reliability = 'G' }},
		{"reliability lower case", func(e *Evidence) { e.Reliability = 'a' }},
		{"credibility 7", func(e *Evidence) { e.Credibility = 7 }},
		{"credibility -1", func(e *Evidence) { e.Credibility = -1 }},
		{"corroboration -1", func(e *Evidence) { e.Corroboration = -1 }},
		{"half-life negative", func(e *Evidence) { e.HalfLife = -time.Hour }},
		{"no now", func(e *Evidence) { e.Now = time.Time{} }},
		{"no observed", func(e *Evidence) { e.Observed = time.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := ok
			tt.change(&e)
			if a, err := Assess(e); !errors.Is(err, tearline.ErrInvalid) {
				t.Fatalf("Assess(%+v) = %+v, %v; want ErrInvalid", e, a, err)
			}
		})
	}
}

func TestSTIXConfidence(t *testing.T) {
	tests := []struct {
		json    string
		want    int
		wantErr bool
	}{
		{`{"type":"indicator"}`, ConfidenceUnknown, false},
		{`{"confidence":75}`, 75, false},
		{`{"confidence":0}`, 0, false},
		{`{"confidence":100}`, 100, false},
		{`{"confidence":"75"}`, 0, true},
		{`{"confidence":101}`, 0, true},
		{`{"confidence":-1}`, 0, true},
		{`{"confidence":7.5}`, 0, true},
		{`{"confidence":1e2}`, 0, true},
	}
	for _, tt := range tests {
		v, err := stix.ParseJSON([]byte(tt.json))
		if err != nil {
			t.Fatal(err)
		}
		got, err := STIXConfidence(&v)
		if (err != nil) != tt.wantErr || (!tt.wantErr && got != tt.want) {
			t.Errorf("STIXConfidence(%s) = %d, %v; want %d, error %v", tt.json, got, err, tt.want, tt.wantErr)
		}
	}
}
