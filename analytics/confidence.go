package analytics

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// ConfidenceUnknown is Evidence.Confidence for an object without a STIX
// confidence property.
const ConfidenceUnknown = -1

// The constants of the confidence formula (see Assess and
// docs/confidence.md).
const (
	// UnknownInformation is the information estimate when neither a STIX
	// confidence nor a usable credibility grade is given: even odds.
	UnknownInformation = 0.5
	// CorroborationStep is the share of the remaining doubt that each
	// independent originator beyond the first removes.
	CorroborationStep = 0.25
	// MaxCorroborating is how many originators beyond the first count;
	// more add nothing.
	MaxCorroborating = 8
	// CorroborationCeiling is the most corroboration can lift a score to:
	// independent partners may share one upstream feed, so agreement
	// alone never makes an observable certain.
	CorroborationCeiling = 0.95
	// DefaultHalfLife is the age at which a score halves when Evidence
	// gives no half-life. Callers should choose per kind: addresses are
	// reassigned within days, a file hash names its file for ever.
	DefaultHalfLife = 30 * 24 * time.Hour
)

// credibilityEstimate is the STIX 2.1 specification's mapping of the
// Admiralty credibility scale to its 0-100 confidence scale, as a
// fraction. 6 ("truth cannot be judged") maps to no value.
var credibilityEstimate = [7]float64{1: 0.9, 2: 0.7, 3: 0.5, 4: 0.3, 5: 0.1}

// reliabilityWeight discounts what a source says by its Admiralty
// reliability. A source that cannot be judged (F) or is not graded sits
// between C and D: no record is better than a poor one, worse than a fair
// one.
var reliabilityWeight = map[byte]float64{
	'A': 1.0, 'B': 0.9, 'C': 0.8, 'D': 0.6, 'E': 0.4, 'F': 0.7, 0: 0.7,
}

// Evidence is what the confidence in one report of an observable rests on.
type Evidence struct {
	// Confidence is the object's STIX confidence property, 0 to 100, or
	// ConfidenceUnknown.
	Confidence int
	// Reliability is the Admiralty source reliability 'A' to 'F', 0 when
	// not graded (tearline.Label.Reliability).
	Reliability byte
	// Credibility is the Admiralty information credibility 1 to 6, 0 when
	// not graded (tearline.Label.Credibility).
	Credibility int
	// Corroboration is the number of independent originators that report
	// the observable among the documents the viewer may see, the report's
	// own originator included (Correlation.Corroboration).
	Corroboration int
	// Observed is when the information was last known true: the newest of
	// the viewer's visible reports' valid_from, last_seen or modified.
	Observed time.Time
	// Now is the time of the assessment.
	Now time.Time
	// HalfLife is the age at which the score halves; 0 means
	// DefaultHalfLife.
	HalfLife time.Duration
}

// Assessment is a confidence score with every term that produced it, so
// that a person can see why.
type Assessment struct {
	Evidence Evidence // as given, HalfLife resolved
	// Information (I) is the estimate that the information is true: the
	// mean of the STIX confidence and the credibility's estimate, of
	// whichever are given, or UnknownInformation.
	Information float64
	// InformationBasis says which estimates Information rests on:
	// "confidence and credibility", "confidence", "credibility" or
	// "unknown".
	InformationBasis string
	// SourceWeight (R) is the weight of the source's reliability.
	SourceWeight float64
	// Source (S1 = R × I) is the score of the report on its own.
	Source float64
	// CorroborationGain (K) is the share of the distance from Source to
	// CorroborationCeiling that corroboration closes.
	CorroborationGain float64
	// Combined (S) is Source lifted by corroboration.
	Combined float64
	// Age is Now - Observed, or 0 when Observed is later.
	Age time.Duration
	// Decay (D) is 2^(-Age/HalfLife).
	Decay float64
	// Value is Combined × Decay, from 0 to 1.
	Value float64
	// Score is Value on the STIX 0-100 scale, rounded.
	Score int
}

// Band names Score on the STIX 2.1 None/Low/Med/High scale: 0 "none",
// 1-29 "low", 30-69 "medium", 70-100 "high".
func (a Assessment) Band() string {
	switch {
	case a.Score == 0:
		return "none"
	case a.Score < 30:
		return "low"
	case a.Score < 70:
		return "medium"
	}
	return "high"
}

// Assess computes the confidence that an observable reported with evidence
// e is worth acting on, from 0 to 100:
//
//	I  = mean of the known estimates {Confidence/100, credibility estimate},
//	     or 0.5 when neither is known
//	     (credibility 1..5 -> 0.9, 0.7, 0.5, 0.3, 0.1, the STIX 2.1 mapping;
//	      6 and ungraded give no estimate)
//	R  = reliability weight: A 1.0, B 0.9, C 0.8, D 0.6, E 0.4, F or ungraded 0.7
//	S1 = R × I
//	K  = 1 - (1 - 0.25)^min(n-1, 8) for n independent originators, 0 when n <= 1
//	S  = S1 + (0.95 - S1) × K when S1 < 0.95, else S1
//	D  = 2^(-age / half-life)
//	Score = round(100 × S × D)
//
// Unknown grading is neutral rather than trusted: an ungraded report
// without a confidence scores 35. Corroboration saturates: a ninth
// independent originator and the hundredth add the same (nothing), and no
// amount of agreement passes 95 on its own. docs/confidence.md gives the
// reasons and worked examples.
//
// Assess returns an error, unwrapping to tearline.ErrInvalid, for inputs
// out of range: a confidence outside 0-100, a grade outside A-F or 1-6, a
// negative corroboration or half-life, or a zero Now or Observed.
func Assess(e Evidence) (Assessment, error) {
	if e.Confidence != ConfidenceUnknown && (e.Confidence < 0 || e.Confidence > 100) {
		return Assessment{}, evidenceError("confidence %d is outside 0-100; use ConfidenceUnknown for an object without one", e.Confidence)
	}
	r, ok := reliabilityWeight[e.Reliability]
	if !ok {
		return Assessment{}, evidenceError("source reliability %q is not an Admiralty grade A-F (0 when not graded)", rune(e.Reliability))
	}
	if e.Credibility < 0 || e.Credibility > 6 {
		return Assessment{}, evidenceError("information credibility %d is not an Admiralty grade 1-6 (0 when not graded)", e.Credibility)
	}
	if e.Corroboration < 0 {
		return Assessment{}, evidenceError("corroboration %d is negative", e.Corroboration)
	}
	if e.HalfLife < 0 {
		return Assessment{}, evidenceError("half-life %v is negative", e.HalfLife)
	}
	if e.Now.IsZero() || e.Observed.IsZero() {
		return Assessment{}, evidenceError("the time of the assessment and of the observation are both needed")
	}
	if e.HalfLife == 0 {
		e.HalfLife = DefaultHalfLife
	}

	a := Assessment{Evidence: e, SourceWeight: r}
	sum, n := 0.0, 0
	if e.Confidence != ConfidenceUnknown {
		sum += float64(e.Confidence) / 100
		n++
	}
	if c := credibilityEstimate[e.Credibility]; c > 0 {
		sum += c
		n++
	}
	switch {
	case n == 2:
		a.InformationBasis = "confidence and credibility"
	case n == 0:
		a.InformationBasis = "unknown"
	case e.Confidence != ConfidenceUnknown:
		a.InformationBasis = "confidence"
	default:
		a.InformationBasis = "credibility"
	}
	if n == 0 {
		a.Information = UnknownInformation
	} else {
		a.Information = sum / float64(n)
	}
	a.Source = a.SourceWeight * a.Information

	if extra := min(e.Corroboration-1, MaxCorroborating); extra > 0 {
		a.CorroborationGain = 1 - math.Pow(1-CorroborationStep, float64(extra))
	}
	a.Combined = a.Source
	if a.Source < CorroborationCeiling {
		a.Combined = a.Source + (CorroborationCeiling-a.Source)*a.CorroborationGain
	}

	if age := e.Now.Sub(e.Observed); age > 0 {
		a.Age = age
	}
	a.Decay = math.Exp2(-float64(a.Age) / float64(e.HalfLife))
	a.Value = a.Combined * a.Decay
	a.Score = int(math.Round(100 * a.Value))
	return a, nil
}

func evidenceError(format string, args ...any) error {
	return fmt.Errorf("analytics: evidence: "+format+": %w", append(args, tearline.ErrInvalid)...)
}

// STIXConfidence reads the confidence property of a STIX object's parsed
// JSON: its value 0-100, or ConfidenceUnknown when the property is absent.
// A confidence that is not an integer from 0 to 100 is an error naming it.
func STIXConfidence(v *stix.Value) (int, error) {
	c, ok := v.Get("confidence")
	if !ok {
		return ConfidenceUnknown, nil
	}
	if c.Kind != stix.Number {
		return 0, fmt.Errorf("analytics: $.confidence is a %s; STIX confidence is an integer from 0 to 100: %w", c.Kind, tearline.ErrInvalid)
	}
	n, err := strconv.Atoi(c.Str)
	if err != nil || n < 0 || n > 100 {
		return 0, fmt.Errorf("analytics: $.confidence %s is not an integer from 0 to 100: %w", shown(c.Str), tearline.ErrInvalid)
	}
	return n, nil
}
