package metrics

import (
	"bytes"
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// sampleLine is a sample of the text format: a name, labels with values
// in double quotes (\\, \" and \n escaped), and a value.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)?\})? (\S+)$`)

// parse checks out against the text format, strictly: every family has
// its HELP and TYPE lines before its samples, every sample belongs to the
// family announced last, and every value parses. It returns the samples
// by their line without the value.
func parse(t *testing.T, out string) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	var family, kind string
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "# HELP "):
			family = strings.Fields(line)[2]
			kind = ""
		case strings.HasPrefix(line, "# TYPE "):
			f := strings.Fields(line)
			if len(f) != 4 || f[2] != family {
				t.Fatalf("line %d: %q does not type the family announced (%s)", i+1, line, family)
			}
			kind = f[3]
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				t.Fatalf("line %d: %q is not a sample", i+1, line)
			}
			name := m[1]
			if kind == "" || (name != family && !(kind == "histogram" && (name == family+"_bucket" || name == family+"_sum" || name == family+"_count"))) {
				t.Fatalf("line %d: %q is outside its family (%s, %s)", i+1, line, family, kind)
			}
			v, err := strconv.ParseFloat(strings.TrimPrefix(m[3], "+"), 64)
			if err != nil {
				t.Fatalf("line %d: value %q: %v", i+1, m[3], err)
			}
			key := line[:len(line)-len(m[3])-1]
			if _, dup := samples[key]; dup {
				t.Fatalf("line %d: %q repeated", i+1, key)
			}
			samples[key] = v
		}
	}
	return samples
}

func write(t *testing.T, r *Registry) string {
	t.Helper()
	var b bytes.Buffer
	if err := r.Write(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestTextFormat: counters, histograms and gauges come out in the text
// format, sorted, with label values escaped, histogram buckets cumulative
// and +Inf equal to the count; the same state gives the same bytes.
func TestTextFormat(t *testing.T) {
	r := New()
	req := r.Counter("test_requests_total", "Requests.\nBy code.", "listener", "code")
	req.Inc("partners", "200")
	req.Add(2, "partners", "200")
	req.Inc("users", "404")
	req.Inc("odd", "a\"b\\c\nd")
	lat := r.Histogram("test_seconds", "Latency.", []float64{0.01, 0.1, 1}, "listener")
	for _, v := range []float64{0.005, 0.01, 0.05, 0.5, 5} {
		lat.Observe(v, "partners")
	}
	r.Gauge("test_lag", "Lag.", func(context.Context) ([]Sample, error) {
		return []Sample{{Values: []string{"USA"}, Value: 3}, {Values: []string{"CAN"}, Value: 0}}, nil
	}, "partner")
	out := write(t, r)
	s := parse(t, out)
	want := map[string]float64{
		`test_requests_total{listener="partners",code="200"}`:   3,
		`test_requests_total{listener="users",code="404"}`:      1,
		`test_requests_total{listener="odd",code="a\"b\\c\nd"}`: 1,
		`test_seconds_bucket{listener="partners",le="0.01"}`:    2,
		`test_seconds_bucket{listener="partners",le="0.1"}`:     3,
		`test_seconds_bucket{listener="partners",le="1"}`:       4,
		`test_seconds_bucket{listener="partners",le="+Inf"}`:    5,
		`test_seconds_sum{listener="partners"}`:                 5.565,
		`test_seconds_count{listener="partners"}`:               5,
		`test_lag{partner="CAN"}`:                               0,
		`test_lag{partner="USA"}`:                               3,
	}
	for k, v := range want {
		got, ok := s[k]
		if !ok || math.Abs(got-v) > 1e-9 {
			t.Errorf("%s = %v (present %v); want %v\n%s", k, got, ok, v, out)
		}
	}
	if !strings.Contains(out, "# HELP test_requests_total Requests.\\nBy code.\n# TYPE test_requests_total counter\n") {
		t.Errorf("the HELP line is not escaped:\n%s", out)
	}
	// Sorted: families by name, series by label values.
	if a, b := strings.Index(out, "test_lag{"), strings.Index(out, "test_requests_total{"); a > b {
		t.Error("families are not sorted by name")
	}
	if a, b := strings.Index(out, `partner="CAN"`), strings.Index(out, `partner="USA"`); a > b {
		t.Error("a gauge's samples are not sorted")
	}
	if again := write(t, r); again != out {
		t.Errorf("two scrapes of the same state differ:\n%s\n---\n%s", out, again)
	}
}

// TestGaugeReadError: a gauge that cannot be read is left out, and the
// scrape counts it, by family.
func TestGaugeReadError(t *testing.T) {
	r := New()
	r.Gauge("test_broken", "Broken.", func(context.Context) ([]Sample, error) { return nil, errors.New("database locked") })
	out := write(t, r)
	s := parse(t, out)
	if _, ok := s["test_broken"]; ok {
		t.Errorf("the broken gauge has a sample:\n%s", out)
	}
	if got := s[`tearline_metrics_read_errors_total{metric="test_broken"}`]; got != 1 {
		t.Errorf("read errors of test_broken = %v; want 1\n%s", got, out)
	}
}

// TestHandler: GET answers in the text format's media type; other
// methods are refused.
func TestHandler(t *testing.T) {
	r := New()
	r.Counter("test_total", "Total.").Inc()
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ContentType || parse(t, b.String())["test_total"] != 1 {
		t.Errorf("GET = %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
	}
	resp, err = http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d; want 405", resp.StatusCode)
	}
}

// TestMisuse: names that are not valid, a family registered twice, the
// wrong number of label values and a counter going down are programming
// errors, and panic.
func TestMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"bad name":        func() { New().Counter("9lives", "x") },
		"bad label":       func() { New().Counter("ok_total", "x", "bad-label") },
		"reserved label":  func() { New().Counter("ok_total", "x", "le") },
		"twice":           func() { r := New(); r.Counter("ok_total", "x"); r.Counter("ok_total", "x") },
		"label values":    func() { New().Counter("ok_total", "x", "a").Inc() },
		"counter down":    func() { New().Counter("ok_total", "x").Add(-1) },
		"unsorted bucket": func() { New().Histogram("ok_seconds", "x", []float64{1, 0.1}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
