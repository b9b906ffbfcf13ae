package analytics

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// MarshalText writes the kind's name (see Kind.String), so that
// observables read as {"kind":"ipv4-addr","value":"192.0.2.1/32"}.
// The zero Kind, of the zero Observable, is written as "".
func (k Kind) MarshalText() ([]byte, error) {
	if k == 0 {
		return nil, nil
	}
	if !k.Valid() {
		return nil, fmt.Errorf("analytics: kind %d has no name", uint8(k))
	}
	return []byte(k.String()), nil
}

// UnmarshalText reads a kind's name.
func (k *Kind) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*k = 0
		return nil
	}
	x, ok := ParseKind(string(b))
	if !ok {
		return fmt.Errorf("analytics: %q is not an observable kind: %w", shown(string(b)), tearline.ErrInvalid)
	}
	*k = x
	return nil
}

// MarshalText writes the match kinds as MatchKind.String does.
func (m MatchKind) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (m *MatchKind) UnmarshalText(b []byte) error {
	*m = 0
	if string(b) == "none" {
		return nil
	}
	for _, part := range strings.Split(string(b), "|") {
		k, ok := matchKindNames[part]
		if !ok {
			return fmt.Errorf("analytics: %q is not a match kind (exact, cidr, domain-suffix, subdomain): %w", shown(part), tearline.ErrInvalid)
		}
		*m |= k
	}
	return nil
}

var matchKindNames = map[string]MatchKind{"exact": MatchExact, "cidr": MatchCIDR, "domain-suffix": MatchDomainSuffix, "subdomain": MatchSubdomain}

// UnmarshalText reads an action level's name.
func (l *ActionLevel) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*l = 0
		return nil
	}
	for i, n := range actionNames {
		if n != "" && n == string(b) {
			*l = ActionLevel(i)
			return nil
		}
	}
	return fmt.Errorf("analytics: %q is not an action level: %w", shown(string(b)), tearline.ErrInvalid)
}

// assessmentJSON is the JSON form of an Assessment.
type assessmentJSON struct {
	Score             int          `json:"score"`
	Band              string       `json:"band"`
	Value             float64      `json:"value"`
	Inputs            evidenceJSON `json:"inputs"`
	Information       float64      `json:"information"`
	InformationBasis  string       `json:"information_basis"`
	SourceWeight      float64      `json:"source_weight"`
	Source            float64      `json:"source"`
	CorroborationGain float64      `json:"corroboration_gain"`
	Combined          float64      `json:"combined"`
	AgeSeconds        float64      `json:"age_seconds"`
	Decay             float64      `json:"decay"`
}

type evidenceJSON struct {
	// Confidence is null when the object has none.
	Confidence      *int      `json:"confidence"`
	Reliability     string    `json:"reliability,omitempty"`
	Credibility     int       `json:"credibility,omitempty"`
	Corroboration   int       `json:"corroboration"`
	Observed        time.Time `json:"observed"`
	Now             time.Time `json:"now"`
	HalfLifeSeconds float64   `json:"half_life_seconds"`
}

// UnmarshalJSON reads what MarshalJSON writes (to its six decimals).
func (a *Assessment) UnmarshalJSON(b []byte) error {
	var j assessmentJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	e := Evidence{Confidence: ConfidenceUnknown, Credibility: j.Inputs.Credibility, Corroboration: j.Inputs.Corroboration,
		Observed: j.Inputs.Observed, Now: j.Inputs.Now, HalfLife: time.Duration(j.Inputs.HalfLifeSeconds * float64(time.Second))}
	if j.Inputs.Confidence != nil {
		e.Confidence = *j.Inputs.Confidence
	}
	if len(j.Inputs.Reliability) > 1 {
		return fmt.Errorf("analytics: reliability %q is not one Admiralty grade: %w", shown(j.Inputs.Reliability), tearline.ErrInvalid)
	}
	if j.Inputs.Reliability != "" {
		e.Reliability = j.Inputs.Reliability[0]
	}
	*a = Assessment{Evidence: e, Information: j.Information, InformationBasis: j.InformationBasis, SourceWeight: j.SourceWeight,
		Source: j.Source, CorroborationGain: j.CorroborationGain, Combined: j.Combined,
		Age: time.Duration(j.AgeSeconds * float64(time.Second)), Decay: j.Decay, Value: j.Value, Score: j.Score}
	return nil
}

// MarshalJSON writes an assessment with its inputs and every term, in
// the words of docs/confidence.md; durations are in seconds.
func (a Assessment) MarshalJSON() ([]byte, error) {
	e := a.Evidence
	in := evidenceJSON{Corroboration: e.Corroboration, Observed: e.Observed, Now: e.Now, HalfLifeSeconds: e.HalfLife.Seconds(), Credibility: e.Credibility}
	if e.Confidence != ConfidenceUnknown {
		c := e.Confidence
		in.Confidence = &c
	}
	if e.Reliability != 0 {
		in.Reliability = string(rune(e.Reliability))
	}
	return json.Marshal(assessmentJSON{Score: a.Score, Band: a.Band(), Value: round6(a.Value), Inputs: in,
		Information: round6(a.Information), InformationBasis: a.InformationBasis, SourceWeight: round6(a.SourceWeight),
		Source: round6(a.Source), CorroborationGain: round6(a.CorroborationGain), Combined: round6(a.Combined),
		AgeSeconds: a.Age.Seconds(), Decay: round6(a.Decay)})
}

// round6 keeps six decimals: the terms are shown to people, and the last
// bits of a float64 only make two equal scores print differently.
func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }
