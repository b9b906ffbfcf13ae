package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/fuzzseed"
)

var secret = []byte("0123456789abcdef-test-secret")

func alert(id string) analytics.Alert {
	return analytics.Alert{ID: id, Kind: analytics.AlertMatch, Viewer: "soc", Raised: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC),
		Sighting: &analytics.Sighting{Observable: analytics.Observable{Kind: analytics.KindIPv4, Value: "192.0.2.1/32"}, Source: "fw.log:3"}}
}

// delivery is one request the test endpoint received.
type delivery struct {
	body    []byte
	sig     string
	id      string
	attempt int
}

// endpoint is an HTTP receiver on 127.0.0.1 that answers with the codes
// given, in turn (then 200), and records every request.
type endpoint struct {
	mu    sync.Mutex
	codes []int
	got   []delivery
	srv   *httptest.Server
}

func newEndpoint(t *testing.T, codes ...int) *endpoint {
	e := &endpoint{codes: codes}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		n, _ := strconv.Atoi(r.Header.Get(AttemptHeader))
		e.mu.Lock()
		e.got = append(e.got, delivery{body, r.Header.Get(SignatureHeader), r.Header.Get(DeliveryHeader), n})
		code := http.StatusOK
		if len(e.codes) > 0 {
			code, e.codes = e.codes[0], e.codes[1:]
		}
		e.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) deliveries() []delivery {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]delivery(nil), e.got...)
}

func start(t *testing.T, cfg Config) (*Sender, func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	return s, func() { cancel(); <-done }
}

// waitFor polls cond for up to five seconds: deliveries are asynchronous.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestDeliverySigned(t *testing.T) {
	e := newEndpoint(t)
	s, stop := start(t, Config{URL: e.srv.URL, Secret: secret})
	defer stop()
	if err := s.Enqueue(alert("a1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a delivery", func() bool { return s.Stats().Delivered == 1 })
	d := e.deliveries()[0]
	if err := Verify(secret, d.sig, d.body, time.Now(), time.Minute); err != nil {
		t.Errorf("Verify of a delivery: %v", err)
	}
	var got analytics.Alert
	if err := json.Unmarshal(d.body, &got); err != nil || got.ID != "a1" || d.id != "a1" || got.Sighting.Observable.Kind != analytics.KindIPv4 {
		t.Errorf("delivered body %s (%v), delivery id %q; want alert a1 as JSON", d.body, err, d.id)
	}
	// Tampering with the body, the secret or the time fails.
	if err := Verify(secret, d.sig, append(d.body, ' '), time.Now(), time.Minute); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify of a changed body: %v", err)
	}
	if err := Verify([]byte("another-secret-of-16+"), d.sig, d.body, time.Now(), time.Minute); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify with another secret: %v", err)
	}
	if err := Verify(secret, d.sig, d.body, time.Now().Add(time.Hour), time.Minute); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify an hour later: %v; want a refusal of a replay", err)
	}
}

func TestRetriesAfterServerError(t *testing.T) {
	e := newEndpoint(t, 500, 503, 200)
	s, stop := start(t, Config{URL: e.srv.URL, Secret: secret, InitialBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	defer stop()
	s.Enqueue(alert("a2"))
	waitFor(t, "a delivery after retries", func() bool { return s.Stats().Delivered == 1 })
	ds := e.deliveries()
	if len(ds) != 3 || ds[0].attempt != 1 || ds[2].attempt != 3 || ds[2].id != "a2" {
		t.Fatalf("deliveries %+v; want three attempts of a2", ds)
	}
	if st := s.Stats(); st.Retries != 2 || st.Failed != 0 {
		t.Errorf("stats %+v; want 2 retries, nothing failed", st)
	}
	for _, d := range ds {
		if err := Verify(secret, d.sig, d.body, time.Now(), time.Minute); err != nil {
			t.Errorf("attempt %d not verifiable: %v", d.attempt, err)
		}
	}
}

func TestGivesUpBounded(t *testing.T) {
	e := newEndpoint(t, 500, 500, 500, 500, 500, 500, 500, 500)
	s, stop := start(t, Config{URL: e.srv.URL, Secret: secret, MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	defer stop()
	s.Enqueue(alert("a3"))
	s.Enqueue(alert("a4"))
	waitFor(t, "both alerts given up", func() bool { return s.Stats().Failed == 2 })
	if n := len(e.deliveries()); n != 6 {
		t.Errorf("%d attempts; want 3 per alert", n)
	}
	// A refusal that retrying cannot change is not retried.
	e2 := newEndpoint(t, 401)
	s2, stop2 := start(t, Config{URL: e2.srv.URL, Secret: secret, InitialBackoff: time.Millisecond})
	defer stop2()
	s2.Enqueue(alert("a5"))
	waitFor(t, "a permanent refusal", func() bool { return s2.Stats().Failed == 1 })
	if n := len(e2.deliveries()); n != 1 {
		t.Errorf("a 401 was tried %d times; want once", n)
	}
}

func TestQueueBounded(t *testing.T) {
	e := newEndpoint(t)
	s, err := New(Config{URL: e.srv.URL, Secret: secret, QueueSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		err := s.Enqueue(alert("q" + strconv.Itoa(i)))
		if (i < 2) != (err == nil) || i >= 2 && !errors.Is(err, ErrQueueFull) {
			t.Errorf("Enqueue %d = %v", i, err)
		}
	}
	if st := s.Stats(); st.Queued != 2 || st.Dropped != 3 {
		t.Errorf("stats %+v; want 2 queued, 3 dropped", st)
	}
	// Run delivers what was queued, in order.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	waitFor(t, "the queue drained", func() bool { return s.Stats().Delivered == 2 })
	if ds := e.deliveries(); ds[0].id != "q0" || ds[1].id != "q1" {
		t.Errorf("delivered %q then %q; want q0 then q1", ds[0].id, ds[1].id)
	}
}

func TestStopsDuringBackoff(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	s, stop := start(t, Config{URL: srv.URL, Secret: secret, MaxBackoff: time.Hour})
	s.Enqueue(alert("a6"))
	waitFor(t, "the first attempt", func() bool { return hits.Load() == 1 })
	stop() // returns although the sender was told to wait an hour
	if st := s.Stats(); st.Delivered != 0 || st.Failed != 0 {
		t.Errorf("stats after stopping %+v; want nothing delivered or failed", st)
	}
}

func TestNewRefuses(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{URL: "http://siem.example/alerts", Secret: secret}, "not loopback"},
		{Config{URL: "ftp://127.0.0.1/x", Secret: secret}, "not https"},
		{Config{URL: "/relative", Secret: secret}, "not an absolute URL"},
		{Config{URL: "https://siem.example/alerts", Secret: []byte("short")}, "at least 16"},
		{Config{URL: "https://siem.example/alerts", Secret: secret, QueueSize: -1}, "negative"},
	} {
		_, err := New(c.cfg)
		if !errors.Is(err, tearline.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%s) = %v; want ErrInvalid saying %q", c.cfg.URL, err, c.want)
		}
	}
	for _, u := range []string{"https://siem.example/alerts", "http://127.0.0.1:9/x", "http://[::1]:9/x", "http://localhost/x"} {
		if _, err := New(Config{URL: u, Secret: secret}); err != nil {
			t.Errorf("New(%s) = %v", u, err)
		}
	}
}

// TestForwardSubscription: a Sender forwards a corpus subscription until
// it closes.
func TestForwardSubscription(t *testing.T) {
	e := newEndpoint(t)
	s, stop := start(t, Config{URL: e.srv.URL, Secret: secret})
	defer stop()
	c, v := tinyCorpus(t)
	sub, err := c.Subscribe(v, 4)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.Forward(context.Background(), sub); close(done) }()
	if ok, err := c.Record(analytics.Sighting{Observable: analytics.Observable{Kind: analytics.KindDomain, Value: "relay.example"}, Source: "dns.log:1"}); !ok || err != nil {
		t.Fatalf("Record = %v, %v", ok, err)
	}
	waitFor(t, "the forwarded alert", func() bool { return s.Stats().Delivered == 1 })
	sub.Close()
	<-done
	var a analytics.Alert
	if err := json.Unmarshal(e.deliveries()[0].body, &a); err != nil || a.Viewer != "soc" || len(a.Findings) != 1 {
		t.Errorf("forwarded alert %+v, %v", a, err)
	}
}

// FuzzVerify: Verify never panics on any header and accepts only a
// header made by Sign for the same body and secret.
func FuzzVerify(f *testing.F) {
	fuzzseed.Require(f)
	now := time.Unix(1790000000, 0)
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		err := Verify(secret, header, body, now, time.Minute)
		// Whatever the spelling of the header, an accepted one carries the
		// MAC of this body under this secret.
		_, want, _ := strings.Cut(Sign(secret, body, now), ",v1=")
		if err == nil && !strings.Contains(strings.ToLower(header), want) {
			t.Fatalf("Verify accepted %q for %q", header, body)
		}
		if err != nil && !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify error %v does not wrap ErrSignature", err)
		}
		if good := Sign(secret, body, now); Verify(secret, good, body, now, time.Minute) != nil {
			t.Fatalf("Verify refuses its own signature of %q", body)
		}
	})
}
