// Package webhook delivers early-warning alerts to an HTTP endpoint: each
// alert as one JSON POST, signed with HMAC-SHA256 under a shared secret,
// retried with exponential backoff, from a bounded queue.
//
// It owns the wire format of a delivery (the body is the analytics.Alert
// as JSON; the headers below) and the retry policy. It MUST NOT decide
// what an alert contains or who may receive it: a Sender forwards what
// one viewer's subscription gives it (see analytics.Corpus.Subscribe), so
// the endpoint receives exactly that viewer's alerts.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/analytics"
)

// The headers of a delivery.
const (
	// SignatureHeader carries "t=UNIX-SECONDS,v1=HEX": the HMAC-SHA256,
	// under the shared secret, of the decimal timestamp, a dot and the
	// body. The timestamp lets the receiver refuse an old delivery
	// replayed (see Verify).
	SignatureHeader = "X-Tearline-Signature"
	// DeliveryHeader carries the alert's ID, the same on every attempt,
	// so that the receiver can drop a delivery it already has.
	DeliveryHeader = "X-Tearline-Delivery"
	// AttemptHeader carries the attempt number, from 1.
	AttemptHeader = "X-Tearline-Attempt"
)

// MinSecretLen is the shortest secret a Sender accepts: 128 bits.
const MinSecretLen = 16

// Config configures a Sender. URL and Secret are required; zero fields
// take the defaults.
type Config struct {
	// URL is the endpoint. It must be https, or http to a loopback
	// address (a collector on the same host): alerts name partners'
	// indicators and labels, and never cross a network in clear.
	URL string
	// Secret signs every delivery; at least MinSecretLen bytes. Keep it
	// out of config files (an environment variable or a key file).
	Secret []byte
	// QueueSize bounds the alerts waiting; default 1,000. When the queue
	// is full, Enqueue refuses and counts the alert as dropped.
	QueueSize int
	// MaxAttempts is how many times one alert is tried; default 6.
	MaxAttempts int
	// InitialBackoff is the wait after the first failure, doubled after
	// each further one up to MaxBackoff; defaults 1 second and 1 minute.
	// A Retry-After header is honoured up to MaxBackoff.
	InitialBackoff, MaxBackoff time.Duration
	// Timeout bounds one attempt; default 10 seconds.
	Timeout time.Duration
	// Client sends the requests; default an http.Client with Timeout.
	Client *http.Client
	// Now is the clock for signatures; default time.Now.
	Now func() time.Time
	// Logger receives a line for each alert given up; default
	// slog.Default().
	Logger *slog.Logger
}

// Stats count a Sender's work since it was made.
type Stats struct {
	Delivered uint64 // alerts the endpoint accepted (2xx)
	Failed    uint64 // alerts given up after MaxAttempts or a permanent refusal
	Dropped   uint64 // alerts refused because the queue was full
	Retries   uint64 // attempts after the first
	Queued    int    // alerts waiting now
}

// Sender delivers alerts to one endpoint, one at a time and in order. Run
// it with Run; feed it with Enqueue or Forward.
type Sender struct {
	cfg   Config
	queue chan analytics.Alert

	delivered, failed, dropped, retries atomic.Uint64
}

// ErrQueueFull is returned by Enqueue when the queue is full.
var ErrQueueFull = errors.New("webhook: queue full; the alert was dropped")

// New checks cfg and returns a Sender. It refuses, saying what to fix, a
// URL that is not https (or http to a loopback address), a short secret
// and negative limits.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("webhook: URL %q is not an absolute URL such as https://siem.example/alerts: %w", cfg.URL, tearline.ErrInvalid)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !loopback(u.Hostname()) {
			return nil, fmt.Errorf("webhook: URL %s is plain http to a host that is not loopback; use https, as alerts carry partners' information: %w", u.Redacted(), tearline.ErrInvalid)
		}
	default:
		return nil, fmt.Errorf("webhook: URL scheme %q is not https: %w", u.Scheme, tearline.ErrInvalid)
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("webhook: the signing secret is %d bytes; give at least %d random bytes: %w", len(cfg.Secret), MinSecretLen, tearline.ErrInvalid)
	}
	if cfg.QueueSize < 0 || cfg.MaxAttempts < 0 || cfg.InitialBackoff < 0 || cfg.MaxBackoff < 0 || cfg.Timeout < 0 {
		return nil, fmt.Errorf("webhook: queue size, attempts, backoffs and timeout must not be negative: %w", tearline.ErrInvalid)
	}
	if cfg.QueueSize == 0 {
		cfg.QueueSize = 1000
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = time.Second
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = time.Minute
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.InitialBackoff)
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Secret = bytes.Clone(cfg.Secret)
	return &Sender{cfg: cfg, queue: make(chan analytics.Alert, cfg.QueueSize)}, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Enqueue queues an alert for delivery without waiting; it returns
// ErrQueueFull, and counts the alert dropped, when the queue is full.
func (s *Sender) Enqueue(a analytics.Alert) error {
	select {
	case s.queue <- a:
		return nil
	default:
		s.dropped.Add(1)
		return ErrQueueFull
	}
}

// Forward enqueues every alert of a subscription until it is closed or ctx
// is done. Alerts dropped for a full queue are counted in Stats.
func (s *Sender) Forward(ctx context.Context, sub *analytics.Subscription) {
	for {
		select {
		case <-ctx.Done():
			return
		case a, ok := <-sub.C:
			if !ok {
				return
			}
			_ = s.Enqueue(a) // a full queue is counted in Stats.Dropped
		}
	}
}

// Stats returns the Sender's counts.
func (s *Sender) Stats() Stats {
	return Stats{Delivered: s.delivered.Load(), Failed: s.failed.Load(), Dropped: s.dropped.Load(),
		Retries: s.retries.Load(), Queued: len(s.queue)}
}

// Run delivers queued alerts until ctx is done, and returns ctx's error.
// An alert being retried when ctx ends is neither delivered nor counted
// as failed.
func (s *Sender) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case a := <-s.queue:
			s.deliver(ctx, a)
		}
	}
}

// permanentError is a refusal that retrying cannot change.
type permanentError struct{ error }

func (s *Sender) deliver(ctx context.Context, a analytics.Alert) {
	body, err := json.Marshal(a)
	if err != nil {
		s.failed.Add(1)
		s.cfg.Logger.Error("webhook: alert not encodable; given up", "alert", a.ID, "err", err)
		return
	}
	var last error
	for attempt := 1; attempt <= s.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			s.retries.Add(1)
		}
		wait, err := s.attempt(ctx, a.ID, body, attempt)
		if err == nil {
			s.delivered.Add(1)
			return
		}
		last = err
		var perm permanentError
		if errors.As(err, &perm) || attempt == s.cfg.MaxAttempts {
			break
		}
		if wait <= 0 {
			wait = s.backoff(attempt)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if ctx.Err() != nil {
		return
	}
	s.failed.Add(1)
	s.cfg.Logger.Warn("webhook: alert given up", "alert", a.ID, "url", redacted(s.cfg.URL), "err", last)
}

// backoff is the wait after the attempt-th failure: InitialBackoff
// doubled per earlier failure, at most MaxBackoff, less up to a tenth at
// random so that many senders retrying together spread out.
func (s *Sender) backoff(attempt int) time.Duration {
	d := s.cfg.InitialBackoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// attempt POSTs body once. It returns a wait asked for by the endpoint
// (Retry-After), and a permanentError for a refusal retrying cannot
// change (4xx other than 408 and 429).
func (s *Sender) attempt(ctx context.Context, id string, body []byte, n int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, permanentError{fmt.Errorf("webhook: request: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(SignatureHeader, Sign(s.cfg.Secret, body, s.cfg.Now()))
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set(AttemptHeader, strconv.Itoa(n))
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook: POST %s: %w", redacted(s.cfg.URL), err)
	}
	// Drain a little so that the connection can be reused; the body of a
	// reply is not read otherwise.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return 0, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500:
		wait := time.Duration(0)
		if secs, err := strconv.Atoi(strings.TrimSpace(resp.Header.Get("Retry-After"))); err == nil && secs > 0 {
			wait = min(time.Duration(secs)*time.Second, s.cfg.MaxBackoff)
		}
		return wait, fmt.Errorf("webhook: POST %s: %s", redacted(s.cfg.URL), resp.Status)
	default:
		return 0, permanentError{fmt.Errorf("webhook: POST %s: %s; the endpoint refuses the delivery, check its URL and secret", redacted(s.cfg.URL), resp.Status)}
	}
}

func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// Sign returns the SignatureHeader value for body sent at time t.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// ErrSignature is wrapped by every error of Verify.
var ErrSignature = errors.New("webhook: signature does not verify")

// Verify checks a delivery as a receiver should: the SignatureHeader
// value header is well formed, its timestamp is within tolerance of now
// (either way), and its HMAC matches body under secret, compared in
// constant time. Any failure is an error wrapping ErrSignature.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: header %q is not t=UNIX-SECONDS,v1=HEX", ErrSignature, cut(header))
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || -d > tolerance {
		return fmt.Errorf("%w: signed at %s, more than %v from now", ErrSignature, time.Unix(sec, 0).UTC().Format(time.RFC3339), tolerance)
	}
	got, err := hex.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(secret, ts, body)) {
		return fmt.Errorf("%w: the HMAC does not match the body", ErrSignature)
	}
	return nil
}

func cut(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
