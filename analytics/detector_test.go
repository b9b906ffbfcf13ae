package analytics

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// poissonTailReference is the slow, obviously correct P(X >= c): the sum
// of e^-λ λ^k / k! for k from c to c+2000 in 256-bit floats, term by term.
func poissonTailReference(c int64, lambda float64) float64 {
	const prec = 256
	l := new(big.Float).SetPrec(prec).SetFloat64(lambda)
	term := new(big.Float).SetPrec(prec).SetFloat64(math.Exp(-lambda)) // k = 0
	for k := int64(1); k <= c; k++ {
		term.Mul(term, l)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(k))
	}
	sum := new(big.Float).SetPrec(prec).Set(term)
	for k := c + 1; k <= c+2000; k++ {
		term.Mul(term, l)
		term.Quo(term, new(big.Float).SetPrec(prec).SetInt64(k))
		sum.Add(sum, term)
	}
	f, _ := sum.Float64()
	return f
}

func TestPoissonUpperTail(t *testing.T) {
	cases := []struct {
		c      int64
		lambda float64
	}{{1, 0.5}, {3, 0.5}, {3, 0.0059}, {8, 0.097}, {12, 5}, {25, 5}, {40, 10}, {60, 30}, {200, 150}, {2, 3}, {5, 5}}
	for _, tc := range cases {
		got := PoissonUpperTail(tc.c, tc.lambda)
		want := poissonTailReference(tc.c, tc.lambda)
		if math.Abs(got-want) > 1e-9*math.Max(want, 1e-300) && math.Abs(got-want) > 1e-12 {
			t.Errorf("PoissonUpperTail(%d, %g) = %g; want %g", tc.c, tc.lambda, got, want)
		}
	}
	if p := PoissonUpperTail(3, 0.5); math.Abs(p-0.0143877) > 1e-6 {
		t.Errorf("PoissonUpperTail(3, 0.5) = %g; want 0.0143877 (1 - e^-0.5 × 1.625)", p)
	}
	for _, tc := range []struct {
		c      int64
		lambda float64
		want   float64
	}{{0, 3, 1}, {-1, 3, 1}, {4, 0, 0}, {4, math.NaN(), 1}, {100000, 1, 0}} {
		if got := PoissonUpperTail(tc.c, tc.lambda); got != tc.want {
			t.Errorf("PoissonUpperTail(%d, %g) = %g; want %g", tc.c, tc.lambda, got, tc.want)
		}
	}
}

var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// feed adds counts[i] sightings of key in hour i after t0.
func feed(d *RiseDetector, key string, counts []int) {
	for i, n := range counts {
		d.Add(key, t0.Add(time.Duration(i)*time.Hour+30*time.Minute), n)
	}
}

func steady(hours, n int) []int {
	out := make([]int, hours)
	for i := range out {
		out[i] = n
	}
	return out
}

// TestRiseDetectorSynthetic: series that must and must not raise a rise.
func TestRiseDetectorSynthetic(t *testing.T) {
	poisson := func(seed uint64, hours int, lambda float64) []int {
		r := rand.New(rand.NewPCG(seed, 7))
		out := make([]int, hours)
		for i := range out {
			// Knuth's method: fine for small λ.
			l, k, p := math.Exp(-lambda), 0, 1.0
			for {
				p *= r.Float64()
				if p <= l {
					break
				}
				k++
			}
			out[i] = k
		}
		return out
	}
	cases := []struct {
		name   string
		series []int
		rise   bool
	}{
		{"steady 5 an hour", steady(200, 5), false},
		{"steady, then 25 in the last hour", append(steady(199, 5), 25), true},
		{"steady, then 12: more, not unusual enough", append(steady(199, 5), 12), false},
		{"silent for days, then 3", append(steady(100, 0), 3), true},
		{"silent for days, then 2: below the minimum count", append(steady(100, 0), 2), false},
		{"one a day, then 4 in an hour", append(func() []int {
			s := steady(168, 0)
			for i := 0; i < len(s); i += 24 {
				s[i] = 1
			}
			return s
		}(), 4), true},
		{"only 10 hours of history, then 30", append(steady(10, 1), 30), false},
		{"gradual doubling over a week", func() []int {
			s := make([]int, 168)
			for i := range s {
				s[i] = 4 + 4*i/167
			}
			return s
		}(), false},
		{"random Poisson(4), then 20", append(poisson(1, 200, 4), 20), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewRiseDetector(DetectorConfig{})
			if err != nil {
				t.Fatal(err)
			}
			// Another series starts the detector's history at t0.
			d.Add("other", t0, 1)
			feed(d, "k", tc.series)
			now := t0.Add(time.Duration(len(tc.series)-1)*time.Hour + 45*time.Minute)
			got := d.Test("k", now)
			if got.Rising != tc.rise {
				t.Errorf("Test = %+v; want rising %v", got, tc.rise)
			}
		})
	}
}

// TestRiseDetectorFalseAlarms: a stationary Poisson series is tested hour
// after hour for three weeks; the alarms stay within what the threshold
// allows (Alpha per test, two tests per bucket).
func TestRiseDetectorFalseAlarms(t *testing.T) {
	for _, lambda := range []float64{0.2, 2, 20} {
		d, _ := NewRiseDetector(DetectorConfig{})
		r := rand.New(rand.NewPCG(uint64(lambda*10), 3))
		alarms, tests := 0, 0
		for h := 0; h < 3*168; h++ {
			// A normal approximation is enough to make a stationary
			// series for this test.
			n := int(math.Max(0, math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
			at := t0.Add(time.Duration(h)*time.Hour + time.Minute)
			d.Add("k", at, n)
			if h >= DefaultMinHistory {
				tests++
				if d.Test("k", at).Rising {
					alarms++
				}
			}
		}
		if alarms > 1 {
			t.Errorf("λ=%g: %d false alarms in %d tests; want at most 1 (expected about %g)", lambda, alarms, tests, float64(2*tests)*DefaultAlpha)
		}
	}
}

func TestRiseDetectorBookkeeping(t *testing.T) {
	d, _ := NewRiseDetector(DetectorConfig{Baseline: 10, MinHistory: 5})
	feed(d, "a", steady(30, 1))
	if n := len(d.series["a"]); n != 12 {
		t.Errorf("series keeps %d buckets; want the baseline plus the current and previous (12)", n)
	}
	d.Add("a", t0.Add(29*time.Hour), -5)
	if got := d.Test("a", t0.Add(29*time.Hour)); got.Count != 0 {
		t.Errorf("count after taking back more than there was = %d; want 0", got.Count)
	}
	d.Add("b", t0.Add(29*time.Hour), 0)
	if keys := d.Keys(); len(keys) != 1 || keys[0] != "a" {
		t.Errorf("Keys = %v; want [a]", keys)
	}
	if got := d.Test("never", t0.Add(-time.Hour)); got.Rising || got.Reason == "" {
		t.Errorf("Test before any history = %+v; want a reason, no rise", got)
	}
	for _, cfg := range []DetectorConfig{
		{Bucket: time.Millisecond}, {Baseline: -1}, {MinHistory: 500}, {MinCount: -2}, {Alpha: 1.5}, {Alpha: -0.1},
	} {
		if _, err := NewRiseDetector(cfg); !errors.Is(err, tearline.ErrInvalid) {
			t.Errorf("NewRiseDetector(%+v) = %v; want ErrInvalid", cfg, err)
		}
	}
}
