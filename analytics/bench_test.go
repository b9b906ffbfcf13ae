package analytics

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// benchObservables is the size of the benchmark index.
const benchObservables = 1_000_000

// benchDoc is one generated document: ten observables from one partner.
type benchDoc struct {
	doc  uint32
	orig string
	obs  []Observable
}

var tlds = []string{"com", "net", "org", "ru", "cn", "io", "info", "xyz", "top", "de"}

func randomLabel(r *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 5+r.IntN(8))
	for i := range b {
		b[i] = letters[r.IntN(26)]
		if i > 0 && r.IntN(5) == 0 {
			b[i] = letters[r.IntN(len(letters))]
		}
	}
	return string(b)
}

func randomDomain(r *rand.Rand) string {
	d := randomLabel(r) + "." + tlds[r.IntN(len(tlds))]
	if r.IntN(10) < 3 {
		d = []string{"www", "mail", "cdn", "login", randomLabel(r)}[r.IntN(5)] + "." + d
	}
	return d
}

func randomHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

// generate builds a deterministic, realistic mix: 30% IPv4 addresses, 5%
// IPv4 prefixes, 5% IPv6 addresses and prefixes, 25% domains, 15% URLs,
// 20% hashes (SHA-256, MD5, SHA-1), of which one in ten repeats a value
// reported before (by another partner, usually), as shared indicators do.
func generate(n int) ([]benchDoc, []Observable) {
	r := rand.New(rand.NewPCG(2026, 1))
	all := make([]Observable, 0, n)
	for len(all) < n {
		var o Observable
		if len(all) > 0 && r.IntN(10) == 0 {
			all = append(all, all[r.IntN(len(all))])
			continue
		}
		switch p := r.IntN(100); {
		case p < 30:
			o = Observable{KindIPv4, netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}), 32).String()}
		case p < 35:
			bits := 16 + r.IntN(15)
			a := netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
			o = Observable{KindIPv4, netip.PrefixFrom(a, bits).Masked().String()}
		case p < 40:
			var b [16]byte
			b[0], b[1] = 0x20, 0x01
			for i := 2; i < 16; i++ {
				b[i] = byte(r.Uint32())
			}
			bits := []int{128, 128, 64, 48}[r.IntN(4)]
			o = Observable{KindIPv6, netip.PrefixFrom(netip.AddrFrom16(b), bits).Masked().String()}
		case p < 65:
			o = Observable{KindDomain, randomDomain(r)}
		case p < 80:
			o = Observable{KindURL, fmt.Sprintf("http://%s/%s/%s.php?id=%d", randomDomain(r), randomLabel(r), randomLabel(r), r.IntN(100000))}
		default:
			switch h := r.IntN(20); {
			case h < 12:
				o = Observable{KindSHA256, randomHex(r, 32)}
			case h < 17:
				o = Observable{KindMD5, randomHex(r, 16)}
			default:
				o = Observable{KindSHA1, randomHex(r, 20)}
			}
		}
		all = append(all, o)
	}
	docs := make([]benchDoc, 0, n/10+1)
	for i := 0; i < n; i += 10 {
		docs = append(docs, benchDoc{
			doc:  uint32(len(docs)),
			orig: fmt.Sprintf("P%02d", r.IntN(30)),
			obs:  all[i:min(i+10, n)],
		})
	}
	return docs, all
}

func build(b *testing.B, docs []benchDoc) *Index {
	ix := New()
	for _, d := range docs {
		if err := ix.Add(d.doc, d.orig, d.obs); err != nil {
			b.Fatal(err)
		}
	}
	return ix
}

var bench struct {
	once sync.Once
	docs []benchDoc
	all  []Observable
	ix   *Index
	vis  *DocSet
}

func benchIndex(b *testing.B) {
	bench.once.Do(func() {
		bench.docs, bench.all = generate(benchObservables)
		bench.ix = build(b, bench.docs)
		bench.vis = NewDocSet()
		for _, d := range bench.docs {
			bench.vis.Add(d.doc)
		}
	})
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkBuild adds 1,000,000 observables in documents of ten and
// reports the time and the heap the index keeps, per observable.
func BenchmarkBuild(b *testing.B) {
	docs, _ := generate(benchObservables)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		before := heapAlloc()
		b.StartTimer()
		ix := build(b, docs)
		b.StopTimer()
		after := heapAlloc()
		b.ReportMetric(float64(after-before)/benchObservables, "heapB/observable")
		s := ix.Stats()
		b.ReportMetric(float64(s.Observables), "distinct")
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchObservables, "ns/observable")
}

// BenchmarkRemoveAdd replaces one document at a time in the full index:
// the incremental cost of a new object version.
func BenchmarkRemoveAdd(b *testing.B) {
	benchIndex(b)
	b.ResetTimer()
	for i := range b.N {
		d := bench.docs[i%len(bench.docs)]
		bench.ix.Remove(d.doc)
		if err := bench.ix.Add(d.doc, d.orig, d.obs); err != nil {
			b.Fatal(err)
		}
	}
}

func queriesOf(kind func(Kind) bool, limit int) []Observable {
	var qs []Observable
	for _, o := range bench.all {
		if kind(o.Kind) {
			qs = append(qs, o)
			if len(qs) == limit {
				break
			}
		}
	}
	return qs
}

func runLookups(b *testing.B, qs []Observable, kinds MatchKind) {
	b.Helper()
	var dst []Match
	matches := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		var err error
		dst, err = bench.ix.Lookup(dst[:0], qs[i%len(qs)], bench.vis.Has, kinds)
		if err != nil {
			b.Fatal(err)
		}
		matches += len(dst)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	b.ReportMetric(float64(matches)/float64(b.N), "matches/lookup")
}

func runLookupsParallel(b *testing.B, qs []Observable, kinds MatchKind) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var dst []Match
		i := rand.IntN(len(qs))
		for pb.Next() {
			var err error
			dst, err = bench.ix.Lookup(dst[:0], qs[i%len(qs)], bench.vis.Has, kinds)
			if err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkLookupExact looks up stored hashes and URLs (exact matches only).
func BenchmarkLookupExact(b *testing.B) {
	benchIndex(b)
	qs := queriesOf(func(k Kind) bool { return k.IsHash() || k == KindURL }, 1<<16)
	b.Run("serial", func(b *testing.B) { runLookups(b, qs, MatchExact) })
	b.Run("parallel", func(b *testing.B) { runLookupsParallel(b, qs, MatchExact) })
}

// BenchmarkLookupCIDR looks up random IPv4 addresses, finding the stored
// addresses and every stored prefix that contains them.
func BenchmarkLookupCIDR(b *testing.B) {
	benchIndex(b)
	r := rand.New(rand.NewPCG(7, 7))
	qs := make([]Observable, 1<<16)
	for i := range qs {
		if i%2 == 0 {
			// Half are addresses inside stored prefixes or stored addresses.
			p, _ := bench.all[r.IntN(len(bench.all))].Prefix()
			if p.IsValid() && p.Addr().Is4() {
				qs[i] = Observable{KindIPv4, p.Addr().String()}
				continue
			}
		}
		qs[i] = Observable{KindIPv4, netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())}).String()}
	}
	b.Run("ipv4/serial", func(b *testing.B) { runLookups(b, qs, DefaultMatches) })
	b.Run("ipv4/parallel", func(b *testing.B) { runLookupsParallel(b, qs, DefaultMatches) })
	v6 := queriesOf(func(k Kind) bool { return k == KindIPv6 }, 1<<14)
	for i, q := range v6 {
		p, _ := q.Prefix()
		a := p.Addr().As16()
		a[15]++
		v6[i] = Observable{KindIPv6, netip.AddrFrom16(a).String()}
	}
	b.Run("ipv6/serial", func(b *testing.B) { runLookups(b, v6, DefaultMatches) })
}

// BenchmarkLookupDomainSuffix looks up names under stored domains (a
// sighting of x.y.example.com against a report of example.com).
func BenchmarkLookupDomainSuffix(b *testing.B) {
	benchIndex(b)
	stored := queriesOf(func(k Kind) bool { return k == KindDomain }, 1<<16)
	qs := make([]Observable, len(stored))
	for i, o := range stored {
		qs[i] = Observable{KindDomain, "x" + strings.Repeat("a", i%5) + ".host." + o.Value}
	}
	b.Run("serial", func(b *testing.B) { runLookups(b, qs, DefaultMatches) })
	b.Run("parallel", func(b *testing.B) { runLookupsParallel(b, qs, DefaultMatches) })
}

// BenchmarkCorrelateDocument correlates whole documents (ten observables
// each, every match kind), as an analyst opening a report would.
func BenchmarkCorrelateDocument(b *testing.B) {
	benchIndex(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := bench.ix.CorrelateDocument(uint32(i%len(bench.docs)), bench.vis.Has, DefaultMatches); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNormalise(b *testing.B) {
	for _, o := range []Observable{
		{KindSHA256, strings.Repeat("ab", 32)},
		{KindIPv4, "198.51.100.7"},
		{KindDomain, "www.example.com"},
		{KindURL, "http://www.example.com/a/b.php?id=1"},
	} {
		b.Run(o.Kind.String(), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				if _, err := Normalise(o.Kind, o.Value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
