// Package metrics exposes a node's metrics in the Prometheus text format
// (version 0.0.4): counters and histograms that the node updates as it
// works, and gauges read from the node's state when scraped.
//
// It is deliberately small: label names are fixed per family when it is
// registered, label values are chosen by the node from small sets (never
// from what a caller sends), and the output is sorted, so that two
// scrapes of the same state are byte for byte the same.
package metrics

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Registry holds the metric families of one node.
type Registry struct {
	mu       sync.Mutex
	families map[string]*family
	// failed counts the gauges whose read failed, by family.
	failed *Counter
}

// New returns an empty registry. Its own family,
// tearline_metrics_read_errors_total, counts the scrapes in which a gauge
// could not be read (its samples are then left out, not made up).
func New() *Registry {
	r := &Registry{families: map[string]*family{}}
	r.failed = r.Counter("tearline_metrics_read_errors_total", "Scrapes in which a gauge could not be read; its samples were left out.", "metric")
	return r
}

// Kind is a family's Prometheus type.
type Kind string

const (
	KindCounter   Kind = "counter"
	KindGauge     Kind = "gauge"
	KindHistogram Kind = "histogram"
)

type family struct {
	name, help string
	kind       Kind
	labels     []string
	buckets    []float64 // histograms: upper bounds, ascending

	mu     sync.Mutex
	series map[string]*series // by label values, joined with \xff

	read func(context.Context) ([]Sample, error) // gauges
}

type series struct {
	values  []string
	value   float64  // counter
	count   uint64   // histogram
	sum     float64  // histogram
	buckets []uint64 // histogram, per bucket (not cumulative)
}

// Sample is one gauge value with its label values, in the order of the
// family's label names.
type Sample struct {
	Values []string
	Value  float64
}

// register adds a family, or panics on a programming error: a name or
// label that is not valid, or a name registered twice.
func (r *Registry) register(f *family) {
	if !validName(f.name, true) {
		panic(fmt.Sprintf("metrics: invalid metric name %q", f.name))
	}
	for _, l := range f.labels {
		if !validName(l, false) || strings.HasPrefix(l, "__") || l == "le" {
			panic(fmt.Sprintf("metrics: invalid label name %q in %s", l, f.name))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.families[f.name]; dup {
		panic(fmt.Sprintf("metrics: %s registered twice", f.name))
	}
	f.series = map[string]*series{}
	r.families[f.name] = f
}

// validName: [a-zA-Z_:][a-zA-Z0-9_:]* for metrics, without the colons
// for labels.
func validName(s string, metric bool) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case c == ':' && metric:
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Counter is a family of counters.
type Counter struct{ f *family }

// Counter registers a counter family with the given label names.
func (r *Registry) Counter(name, help string, labels ...string) *Counter {
	f := &family{name: name, help: help, kind: KindCounter, labels: labels}
	r.register(f)
	return &Counter{f}
}

// Add adds n (not negative) to the counter with these label values.
func (c *Counter) Add(n float64, values ...string) {
	if n < 0 || math.IsNaN(n) {
		panic(fmt.Sprintf("metrics: %s: a counter cannot go down (add %v)", c.f.name, n))
	}
	s := c.f.get(values)
	s.value += n
	c.f.mu.Unlock()
}

// Inc adds one.
func (c *Counter) Inc(values ...string) { c.Add(1, values...) }

// Histogram is a family of histograms.
type Histogram struct{ f *family }

// Histogram registers a histogram family with the given bucket upper
// bounds (ascending; +Inf is implied) and label names.
func (r *Registry) Histogram(name, help string, buckets []float64, labels ...string) *Histogram {
	if len(buckets) == 0 || !slices.IsSorted(buckets) || slices.Contains(buckets, math.Inf(1)) {
		panic(fmt.Sprintf("metrics: %s: buckets must be ascending and finite", name))
	}
	f := &family{name: name, help: help, kind: KindHistogram, labels: labels, buckets: slices.Clone(buckets)}
	r.register(f)
	return &Histogram{f}
}

// Observe records v (not NaN) in the histogram with these label values.
func (h *Histogram) Observe(v float64, values ...string) {
	if math.IsNaN(v) {
		panic(fmt.Sprintf("metrics: %s: observed NaN", h.f.name))
	}
	s := h.f.get(values)
	if s.buckets == nil {
		s.buckets = make([]uint64, len(h.f.buckets))
	}
	if i, _ := slices.BinarySearch(h.f.buckets, v); i < len(s.buckets) {
		s.buckets[i]++
	}
	s.count++
	s.sum += v
	h.f.mu.Unlock()
}

// get returns the series for values with f.mu held; the caller unlocks.
func (f *family) get(values []string) *series {
	if len(values) != len(f.labels) {
		panic(fmt.Sprintf("metrics: %s takes %d label values, got %d", f.name, len(f.labels), len(values)))
	}
	key := strings.Join(values, "\xff")
	f.mu.Lock()
	s := f.series[key]
	if s == nil {
		s = &series{values: slices.Clone(values)}
		f.series[key] = s
	}
	return s
}

// Gauge registers a gauge family whose samples read returns at each
// scrape.
func (r *Registry) Gauge(name, help string, read func(context.Context) ([]Sample, error), labels ...string) {
	r.register(&family{name: name, help: help, kind: KindGauge, labels: labels, read: read})
}

// Write writes every family in the text format, sorted by name and then
// by label values.
func (r *Registry) Write(ctx context.Context, w io.Writer) error {
	r.mu.Lock()
	fams := make([]*family, 0, len(r.families))
	for _, f := range r.families {
		fams = append(fams, f)
	}
	r.mu.Unlock()
	slices.SortFunc(fams, func(a, b *family) int { return strings.Compare(a.name, b.name) })
	// Gauges are read first, so that their failures count in this
	// scrape's tearline_metrics_read_errors_total.
	read := map[*family][]Sample{}
	for _, f := range fams {
		if f.read == nil {
			continue
		}
		samples, err := f.read(ctx)
		if err != nil {
			r.failed.Inc(f.name)
			continue
		}
		for _, s := range samples {
			if len(s.Values) != len(f.labels) {
				panic(fmt.Sprintf("metrics: %s takes %d label values, a sample has %d", f.name, len(f.labels), len(s.Values)))
			}
		}
		read[f] = samples
	}
	var b bytes.Buffer
	for _, f := range fams {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", f.name, escapeHelp(f.help), f.name, f.kind)
		if f.read != nil {
			samples := slices.Clone(read[f])
			slices.SortFunc(samples, func(a, b Sample) int { return slices.Compare(a.Values, b.Values) })
			for _, s := range samples {
				writeSample(&b, f.name, f.labels, s.Values, "", s.Value)
			}
			continue
		}
		f.mu.Lock()
		all := make([]series, 0, len(f.series))
		for _, s := range f.series {
			c := *s
			c.buckets = slices.Clone(s.buckets)
			all = append(all, c)
		}
		f.mu.Unlock()
		slices.SortFunc(all, func(a, b series) int { return slices.Compare(a.values, b.values) })
		for _, s := range all {
			if f.kind == KindCounter {
				writeSample(&b, f.name, f.labels, s.values, "", s.value)
				continue
			}
			var cum uint64
			for i, ub := range f.buckets {
				if s.buckets != nil {
					cum += s.buckets[i]
				}
				writeSample(&b, f.name+"_bucket", f.labels, s.values, formatValue(ub), float64(cum))
			}
			writeSample(&b, f.name+"_bucket", f.labels, s.values, "+Inf", float64(s.count))
			writeSample(&b, f.name+"_sum", f.labels, s.values, "", s.sum)
			writeSample(&b, f.name+"_count", f.labels, s.values, "", float64(s.count))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// ContentType is the media type of the text format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Handler serves the registry at GET (and HEAD).
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "metrics are read with GET", http.StatusMethodNotAllowed)
			return
		}
		var b bytes.Buffer
		if err := r.Write(req.Context(), &b); err != nil {
			http.Error(w, "metrics could not be written", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		w.Write(b.Bytes())
	})
}

func writeSample(b *bytes.Buffer, name string, labels, values []string, le string, v float64) {
	b.WriteString(name)
	if len(labels) > 0 || le != "" {
		b.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(l)
			b.WriteString(`="`)
			b.WriteString(escapeLabel(values[i]))
			b.WriteByte('"')
		}
		if le != "" {
			if len(labels) > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`le="`)
			b.WriteString(le)
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(formatValue(v))
	b.WriteByte('\n')
}

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }
