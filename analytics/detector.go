package analytics

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/tearline/tearline"
)

// DetectorConfig configures the early-warning detector (see RiseDetector
// and docs/early-warning.md). Zero fields take the defaults.
type DetectorConfig struct {
	// Bucket is the width of a time bucket; default one hour.
	Bucket time.Duration
	// Baseline is how many buckets before the current one the expected
	// rate is estimated from; default 168 (a week of hours).
	Baseline int
	// MinHistory is how many buckets of history the detector needs before
	// it tests at all; default 24. Until then every series looks like a
	// rise from nothing.
	MinHistory int
	// MinCount is the fewest sightings in a bucket that can be a rise;
	// default 3. However unlikely two sightings are, two are not a trend.
	MinCount int
	// Alpha is the significance threshold: a bucket is a rise when a
	// count at least as high has probability Alpha or less under the
	// expected rate; default 1e-4.
	Alpha float64
}

// The detector's defaults.
const (
	DefaultBucket     = time.Hour
	DefaultBaseline   = 168
	DefaultMinHistory = 24
	DefaultMinCount   = 3
	DefaultAlpha      = 1e-4
)

func (c DetectorConfig) withDefaults() DetectorConfig {
	if c.Bucket == 0 {
		c.Bucket = DefaultBucket
	}
	if c.Baseline == 0 {
		c.Baseline = DefaultBaseline
	}
	if c.MinHistory == 0 {
		c.MinHistory = DefaultMinHistory
	}
	if c.MinCount == 0 {
		c.MinCount = DefaultMinCount
	}
	if c.Alpha == 0 {
		c.Alpha = DefaultAlpha
	}
	return c
}

func (c DetectorConfig) validate() error {
	switch {
	case c.Bucket < time.Second:
		return fmt.Errorf("analytics: detector bucket %v is shorter than a second: %w", c.Bucket, tearline.ErrInvalid)
	case c.Baseline < 1 || c.Baseline > 100000:
		return fmt.Errorf("analytics: detector baseline of %d buckets is outside 1-100000: %w", c.Baseline, tearline.ErrInvalid)
	case c.MinHistory < 1 || c.MinHistory > c.Baseline:
		return fmt.Errorf("analytics: detector minimum history of %d buckets is outside 1 to the baseline (%d): %w", c.MinHistory, c.Baseline, tearline.ErrInvalid)
	case c.MinCount < 1:
		return fmt.Errorf("analytics: detector minimum count %d is below 1: %w", c.MinCount, tearline.ErrInvalid)
	case !(c.Alpha > 0 && c.Alpha < 1):
		return fmt.Errorf("analytics: detector threshold %g is not a probability strictly between 0 and 1: %w", c.Alpha, tearline.ErrInvalid)
	}
	return nil
}

// RiseDetector flags unusual rises in counts per key over time buckets:
// the sightings of one observable, campaign or partner, hour by hour.
//
// The test of one bucket of a key, with count c (see Test for which
// buckets are tested):
//
//	h  = buckets of history before it: up to Baseline, since the
//	     detector's first sighting of any key
//	S  = the key's sightings in those h buckets
//	λ  = (S + 1) / (h + 1)            expected sightings per bucket
//	p  = P(X >= c) for X ~ Poisson(λ)
//	rise when h >= MinHistory, c >= MinCount and p <= Alpha
//
// λ counts one imaginary bucket holding one sighting, so that a key never
// sighted before has a small expected rate rather than none, and its
// first sightings are tested, not infinitely surprising. A steady series
// raises a false alarm in at most about Alpha of its buckets.
//
// A RiseDetector is not safe for concurrent use.
type RiseDetector struct {
	cfg     DetectorConfig
	width   int64 // bucket, in nanoseconds
	series  map[string][]bucketCount
	first   int64
	started bool
}

type bucketCount struct {
	b int64 // bucket number: Unix nanoseconds / width, rounded down
	n int64
}

// NewRiseDetector returns an empty detector; zero fields of cfg take the
// defaults. It refuses a configuration that cannot work (a bucket under a
// second, a threshold that is not a probability ...), saying which.
func NewRiseDetector(cfg DetectorConfig) (*RiseDetector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return newRiseDetector(cfg), nil
}

// newRiseDetector is NewRiseDetector for a configuration already
// validated, defaults filled in.
func newRiseDetector(cfg DetectorConfig) *RiseDetector {
	return &RiseDetector{cfg: cfg, width: int64(cfg.Bucket), series: make(map[string][]bucketCount)}
}

// Config returns the detector's configuration, defaults filled in.
func (d *RiseDetector) Config() DetectorConfig { return d.cfg }

func (d *RiseDetector) bucket(t time.Time) int64 {
	ns := t.UnixNano()
	b := ns / d.width
	if ns%d.width < 0 {
		b--
	}
	return b
}

// Add counts n sightings of key at time at. A negative n takes sightings
// back (a sighting corrected by a newer version); a count never goes below
// zero. Sightings older than the baseline before the bucket preceding
// the key's newest no longer matter to any test and are dropped.
func (d *RiseDetector) Add(key string, at time.Time, n int) {
	if n == 0 {
		return
	}
	b := d.bucket(at)
	if n > 0 && (!d.started || b < d.first) {
		d.first, d.started = b, true
	}
	s := d.series[key]
	i, found := slices.BinarySearchFunc(s, b, func(x bucketCount, b int64) int { return cmpInt64(x.b, b) })
	switch {
	case found:
		s[i].n = max(s[i].n+int64(n), 0)
		if s[i].n == 0 {
			s = slices.Delete(s, i, i+1)
		}
	case n > 0:
		s = slices.Insert(s, i, bucketCount{b, int64(n)})
	}
	if len(s) > 0 {
		horizon := s[len(s)-1].b - int64(d.cfg.Baseline) - 1
		cut := 0
		for cut < len(s) && s[cut].b < horizon {
			cut++
		}
		s = s[cut:]
	}
	if len(s) == 0 {
		delete(d.series, key)
		return
	}
	d.series[key] = s
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Keys returns the keys with sightings in the detector, sorted.
func (d *RiseDetector) Keys() []string {
	out := make([]string, 0, len(d.series))
	for k := range d.series {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// RiseTest is the detector's test of one key's current bucket, with every
// input, so that an analyst can see why it did or did not fire.
type RiseTest struct {
	Key string `json:"key"`
	// Bucket is the start of the bucket tested and Width its length.
	Bucket time.Time     `json:"bucket"`
	Width  time.Duration `json:"width_ns"`
	// Count is the bucket's sightings (c).
	Count int64 `json:"count"`
	// History is the buckets of history the expected rate rests on (h),
	// and HistoryCount the sightings in them (S).
	History      int   `json:"history_buckets"`
	HistoryCount int64 `json:"history_count"`
	// Expected is the expected sightings per bucket (λ).
	Expected float64 `json:"expected"`
	// PValue is P(X >= Count) under Expected (p); 1 when not tested.
	PValue   float64 `json:"p_value"`
	Alpha    float64 `json:"alpha"`
	MinCount int     `json:"min_count"`
	Rising   bool    `json:"rising"`
	// Reason says why the bucket is or is not a rise.
	Reason string `json:"reason"`
}

// Test tests, for key, the bucket that holds now and the complete bucket
// before it, each against the history before it, and returns the test of
// the one less likely to be chance (the current one when neither rises):
// a rise stays reported for one full bucket after it ends, so that a
// burst just before a bucket boundary is not lost when the clock crosses
// it.
func (d *RiseDetector) Test(key string, now time.Time) RiseTest {
	cur := d.bucket(now)
	t := d.testBucket(key, cur)
	if prev := d.testBucket(key, cur-1); prev.Rising && (!t.Rising || prev.PValue < t.PValue) {
		return prev
	}
	return t
}

func (d *RiseDetector) testBucket(key string, cur int64) RiseTest {
	t := RiseTest{Key: key, Bucket: time.Unix(0, cur*d.width).UTC(), Width: d.cfg.Bucket, PValue: 1,
		Alpha: d.cfg.Alpha, MinCount: d.cfg.MinCount}
	if !d.started || d.first >= cur {
		t.Reason = "no history before this bucket"
		return t
	}
	from := max(d.first, cur-int64(d.cfg.Baseline))
	t.History = int(cur - from)
	for _, bc := range d.series[key] {
		switch {
		case bc.b == cur:
			t.Count = bc.n
		case bc.b >= from && bc.b < cur:
			t.HistoryCount += bc.n
		}
	}
	t.Expected = float64(t.HistoryCount+1) / float64(t.History+1)
	switch {
	case t.History < d.cfg.MinHistory:
		t.Reason = fmt.Sprintf("only %d buckets of history; %d needed before testing", t.History, d.cfg.MinHistory)
		return t
	case t.Count < int64(d.cfg.MinCount):
		t.Reason = fmt.Sprintf("%d sightings, fewer than the %d a rise needs", t.Count, d.cfg.MinCount)
		return t
	}
	t.PValue = PoissonUpperTail(t.Count, t.Expected)
	t.Rising = t.PValue <= d.cfg.Alpha
	if t.Rising {
		t.Reason = fmt.Sprintf("%d sightings where %.3g were expected: probability %.2g, at or below %.2g", t.Count, t.Expected, t.PValue, d.cfg.Alpha)
	} else {
		t.Reason = fmt.Sprintf("%d sightings where %.3g were expected: probability %.2g, above %.2g", t.Count, t.Expected, t.PValue, d.cfg.Alpha)
	}
	return t
}

// PoissonUpperTail returns P(X >= c) for X ~ Poisson(lambda). It sums the
// probabilities in log space, so that neither a large lambda nor a large
// c overflows or underflows before the result does.
func PoissonUpperTail(c int64, lambda float64) float64 {
	switch {
	case c <= 0 || math.IsNaN(lambda):
		return 1
	case lambda <= 0:
		return 0
	}
	logPMF := func(k int64) float64 {
		lg, _ := math.Lgamma(float64(k) + 1)
		return -lambda + float64(k)*math.Log(lambda) - lg
	}
	if float64(c) <= lambda {
		// The lower tail is the smaller sum here; the result is not small
		// enough to lose precision by subtraction.
		sum := 0.0
		for k := int64(0); k < c; k++ {
			sum += math.Exp(logPMF(k))
		}
		return min(max(1-sum, 0), 1)
	}
	// Above the mean the terms fall, faster and faster: sum until they
	// stop adding anything.
	term := math.Exp(logPMF(c))
	sum := term
	for k := c + 1; k < c+1_000_000; k++ {
		term *= lambda / float64(k)
		sum += term
		if term <= sum*1e-17 {
			break
		}
	}
	return min(sum, 1)
}
