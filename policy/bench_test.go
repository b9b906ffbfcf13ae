package policy

import (
	"runtime"
	"testing"

	"github.com/tearline/tearline"
)

// benchMix is a day at a national node: mostly routine releases to partners
// that the labels allow, with denials, tearlines and escalations mixed in.
func benchMix() []*Request {
	build := func(edits ...func(*Request)) *Request {
		r := baseRequest()
		all(edits...)(r)
		return r
	}
	return []*Request{
		// Allowed (6 of 10).
		build(),
		build(to(partner("CAN", canSecret))),
		build(natoReport, to(partner("DEU", natoNS))),
		build(natoReport, to(partner("FRA", natoNS)), func(r *Request) { r.Subject.Created = date("2022-05-01") }),
		build(policeCase(func(*tearline.Label) {}), consent("FRA", "NLD", "report--1", "")),
		build(fromUSA, tlp(tearline.TLPGreen), to(partner("CAN", canSecret))),
		// A tearline instead of the report.
		build(to(partner("CAN", canSecret)), lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "GBR")} }), tearlineVariant),
		// Denied.
		build(to(partner("FRA", fraSecret))),
		build(natoReport, to(partner("FIN", natoNS)), func(r *Request) { r.Subject.Created = date("2022-05-01") }),
		// Needs consent.
		build(orconToCAN),
	}
}

// BenchmarkDecide reports decisions per second on one core, for the
// common allow, a denial (which explains itself in words), and the mix;
// and on every core in parallel, per core.
func BenchmarkDecide(b *testing.B) {
	e, ref := deciders(b)
	perSecond := func(b *testing.B, n int) {
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "decisions/s/core")
	}
	b.Run("allow", func(b *testing.B) {
		req := baseRequest()
		b.ReportAllocs()
		for b.Loop() {
			e.Decide(req)
		}
		perSecond(b, b.N)
	})
	b.Run("deny", func(b *testing.B) {
		req := baseRequest()
		to(partner("FRA", fraSecret))(req)
		b.ReportAllocs()
		for b.Loop() {
			e.Decide(req)
		}
		perSecond(b, b.N)
	})
	b.Run("mix", func(b *testing.B) {
		mix := benchMix()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.Decide(mix[i%len(mix)])
			i++
		}
		perSecond(b, b.N)
	})
	b.Run("mix-parallel", func(b *testing.B) {
		mix := benchMix()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				e.Decide(mix[i%len(mix)])
				i++
			}
		})
		perSecond(b, b.N/runtime.GOMAXPROCS(0))
	})
	b.Run("mix-reference", func(b *testing.B) {
		mix := benchMix()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			ref.Decide(mix[i%len(mix)])
			i++
		}
		perSecond(b, b.N)
	})
}

// TestBenchMix: the benchmark's mix is what it says it is.
func TestBenchMix(t *testing.T) {
	e, ref := deciders(t)
	want := []tearline.Outcome{
		tearline.Allow, tearline.Allow, tearline.Allow, tearline.Allow, tearline.Allow, tearline.Allow,
		tearline.AllowVariant, tearline.Deny, tearline.Deny, tearline.NeedsConsent,
	}
	for i, req := range benchMix() {
		if got, ref := e.Decide(req), ref.Decide(req); got.Outcome != want[i] || !sameDecision(got, ref) {
			t.Errorf("Decide(mix[%d]) = %s (reference %s); want %v", i, fmtDecision(got), fmtDecision(ref), want[i])
		}
	}
}

// BenchmarkVerdict is the mix of BenchmarkDecide, answered without reasons.
func BenchmarkVerdict(b *testing.B) {
	e, _ := deciders(b)
	mix := benchMix()
	i := 0
	for b.Loop() {
		e.Verdict(mix[i%len(mix)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s/core")
}
