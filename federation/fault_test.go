package federation

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tearline/tearline/label"
)

// bulk returns n indicators marked with banner, and the marking
// definitions they need, as JSON lines; ids are numbered from first.
func bulk(t *testing.T, banner, topic string, first, n int) string {
	t.Helper()
	l, err := label.Parse(banner)
	if err != nil {
		t.Fatal(err)
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range defs {
		b.Write(d)
		b.WriteByte('\n')
	}
	quoted := make([]string, len(refs))
	for i, r := range refs {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z",`+
			`"name":"Relay %d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z",`+
			`"labels":[%q],"object_marking_refs":[%s]}`+"\n", matrixID(i), i, i%250, topic, strings.Join(quoted, ","))
	}
	return b.String()
}

// checkExactlyOnce fails unless the node holds ids first..first+n-1, each
// once, and nothing else.
func checkExactlyOnce(t *testing.T, n *testNode, first, count int) {
	t.Helper()
	held := n.held()
	missing, dup := 0, 0
	for i := first; i < first+count; i++ {
		switch held[matrixID(i)] {
		case 0:
			missing++
		case 1:
		default:
			dup++
		}
		delete(held, matrixID(i))
	}
	if missing > 0 || dup > 0 || len(held) > 0 {
		t.Errorf("%s: %d of %d objects lost, %d held more than once, %d unexpected", n.code, missing, count, dup, len(held))
	}
}

// TestReceiverRestartedMidStream stops the receiving node, store and all,
// in the middle of a long stream of batches, and starts it again: it
// resumes from its cursor, and holds every object once.
func TestReceiverRestartedMidStream(t *testing.T) {
	const total = 3000
	tn := newNet(t, "GBR", "USA")
	tn.tune = func(c *Config) { c.MaxBatch = 50 }
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	gbr.publish(bulk(t, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", 1, total))
	tn.startAll()
	ctx := context.Background()
	eventually(t, 60*time.Second, func() (bool, string) {
		usa.mu.Lock()
		s := usa.store
		usa.mu.Unlock()
		c, err := s.InboxCursor(ctx, "GBR")
		return err == nil && c.Through >= total/3, "USA applied less than a third"
	})
	usa.stop()
	usa.mu.Lock()
	usa.store.Close()
	usa.mu.Unlock()
	tn.openStore(usa)
	c, err := usa.store.InboxCursor(ctx, "GBR")
	if err != nil {
		t.Fatal(err)
	}
	if c.Through >= total {
		t.Fatalf("USA had applied everything (%d) before it was stopped; the test needs a slower stream", c.Through)
	}
	t.Logf("USA stopped with %d of %d applied", c.Through, total)
	tn.start(usa)
	tn.waitSettled(120 * time.Second)
	checkExactlyOnce(t, usa, 1, total)
	gbr.verifyLedger()
	usa.verifyLedger()
}

// faultyProxy forwards TCP connections to a node, dropping, delaying,
// duplicating and reordering what passes, and partitioning the link on
// demand. Inside TLS, a duplicated or reordered record breaks the
// connection, as it would on a real network path that corrupts a stream.
type faultyProxy struct {
	ln     net.Listener
	target string

	drop, delay, dup, reorder float64

	mu          sync.Mutex
	rng         *rand.Rand
	partitioned bool
	conns       map[net.Conn]bool
	stats       struct{ conns, drops, delays, dups, reorders atomic.Int64 }
}

func newFaultyProxy(t *testing.T, target string, seed uint64) *faultyProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultyProxy{ln: ln, target: target, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), conns: map[net.Conn]bool{}}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *faultyProxy) addr() string { return p.ln.Addr().String() }

func (p *faultyProxy) roll() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rng.Float64()
}

// partition holds everything back until heal: connections stall, as on a
// link that lost its route.
func (p *faultyProxy) partition() {
	p.mu.Lock()
	p.partitioned = true
	p.mu.Unlock()
}

func (p *faultyProxy) heal() {
	p.mu.Lock()
	p.partitioned = false
	p.mu.Unlock()
}

func (p *faultyProxy) waitHealed() {
	for {
		p.mu.Lock()
		cut := p.partitioned
		p.mu.Unlock()
		if !cut {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (p *faultyProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.stats.conns.Add(1)
		go p.handle(c)
	}
}

func (p *faultyProxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = true
	} else {
		delete(p.conns, c)
	}
}

func (p *faultyProxy) handle(c net.Conn) {
	p.waitHealed()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(c, true)
	p.track(u, true)
	closeBoth := func() {
		c.Close()
		u.Close()
		p.track(c, false)
		p.track(u, false)
	}
	var once sync.Once
	go func() { p.pipe(u, c); once.Do(closeBoth) }()
	go func() { p.pipe(c, u); once.Do(closeBoth) }()
}

func (p *faultyProxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 8<<10)
	var held []byte
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitHealed()
			chunk := append([]byte(nil), buf[:n]...)
			r := p.roll()
			switch {
			case r < p.drop:
				p.stats.drops.Add(1)
				return
			case r < p.drop+p.delay:
				p.stats.delays.Add(1)
				time.Sleep(time.Duration(p.roll()*20) * time.Millisecond)
			case r < p.drop+p.delay+p.dup:
				p.stats.dups.Add(1)
				chunk = append(chunk, chunk...)
			case r < p.drop+p.delay+p.dup+p.reorder && held == nil:
				p.stats.reorders.Add(1)
				held = chunk
				continue
			}
			if held != nil {
				chunk, held = append(chunk, held...), nil
			}
			if _, werr := dst.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			if held != nil && !errors.Is(err, net.ErrClosed) {
				dst.Write(held)
			}
			if errors.Is(err, io.EOF) {
				if tc, ok := dst.(*net.TCPConn); ok {
					tc.CloseWrite()
				}
			}
			return
		}
	}
}

// TestFaultyLink runs a stream of batches from GBR to USA, and USA's
// notifications back, through proxies that drop, delay, duplicate and
// reorder, with a partition in the middle: afterwards USA holds every
// object once, and both audit logs verify.
func TestFaultyLink(t *testing.T) {
	const total = 2000
	tn := newNet(t, "GBR", "USA")
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	toGBR := newFaultyProxy(t, gbr.addr, 1)
	toUSA := newFaultyProxy(t, usa.addr, 2)
	for _, p := range []*faultyProxy{toGBR, toUSA} {
		p.drop, p.delay, p.dup, p.reorder = 0.01, 0.05, 0.01, 0.01
	}
	tn.endpoint["GBR"] = "https://" + toGBR.addr()
	tn.endpoint["USA"] = "https://" + toUSA.addr()
	tn.tune = func(c *Config) {
		c.MaxBatch = 100
		c.RequestTimeout = 2 * time.Second
		c.PollInterval = 500 * time.Millisecond
	}
	tn.startAll()
	// Published in parts while the link runs, with a partition between.
	gbr.publish(bulk(t, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", 1, total/2))
	time.Sleep(200 * time.Millisecond)
	toGBR.partition()
	toUSA.partition()
	gbr.publish(bulk(t, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", 1+total/2, total/2))
	time.Sleep(3 * time.Second) // longer than a request may take
	toGBR.heal()
	toUSA.heal()
	tn.waitSettled(180 * time.Second)
	checkExactlyOnce(t, usa, 1, total)
	gbr.verifyLedger()
	usa.verifyLedger()
	faults := toGBR.stats.drops.Load() + toGBR.stats.dups.Load() + toGBR.stats.reorders.Load()
	t.Logf("GBR's proxy: %d connections, %d dropped, %d delayed, %d duplicated, %d reordered", toGBR.stats.conns.Load(),
		toGBR.stats.drops.Load(), toGBR.stats.delays.Load(), toGBR.stats.dups.Load(), toGBR.stats.reorders.Load())
	if faults == 0 {
		t.Error("the proxy injected no fault; the test proves nothing")
	}
	if toGBR.stats.conns.Load() < 2 {
		t.Error("the link never reconnected; the faults did not reach it")
	}
}
