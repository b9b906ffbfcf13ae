package federation

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
)

// TestBatchesAppliedOnceInOrder hands USA's receiving side GBR's batches
// out of order, twice, under another range, on the wrong link and
// tampered with: only each batch in its turn is applied, once.
func TestBatchesAppliedOnceInOrder(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "FRA")
	tn.pin()
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	gbr.publish(bulk(t, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", 1, 10))
	gfed, ufed := tn.newFed(gbr, tn.tlsOptions(gbr)), tn.newFed(usa, tn.tlsOptions(usa))
	ctx := context.Background()
	b1, err := gfed.buildBatch(ctx, "USA", BatchQuery{After: 0, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	b2, err := gfed.buildBatch(ctx, "USA", BatchQuery{After: 4, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if b1.header != (BatchHeader{After: 0, Through: 4, Head: 10}) || b2.header != (BatchHeader{After: 4, Through: 10, Head: 10}) || len(b2.sent) != 6 {
		t.Fatalf("batches cover %+v and %+v (%d sent); want (0, 4] and (4, 10] of 10", b1.header, b2.header, len(b2.sent))
	}
	count := func() int { return len(usa.held()) }

	if _, err := ufed.apply(ctx, "GBR", b2.header, b2.envelope); !errors.Is(err, mailbox.ErrOutOfOrder) {
		t.Errorf("apply (4, 10] first = %v; want ErrOutOfOrder", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("USA holds %d objects after an out-of-order batch; want none", n)
	}
	r, err := ufed.apply(ctx, "GBR", b1.header, b1.envelope)
	if err != nil || r == nil || r.Added != 5 || len(r.Refused) != 0 { // 4 objects and their marking definition
		t.Fatalf("apply (0, 4] = %+v, %v; want 5 added, nothing refused", r, err)
	}
	if r, err := ufed.apply(ctx, "GBR", b1.header, b1.envelope); r != nil || err != nil {
		t.Errorf("apply (0, 4] again = %+v, %v; want nothing done, no error", r, err)
	}
	if _, err := ufed.apply(ctx, "GBR", b2.header, b1.envelope); !errors.Is(err, envelope.ErrReplay) {
		t.Errorf("apply the first envelope as the range (4, 10] = %v; want a replay", err)
	}
	// GBR's envelope, arriving on the link from FRA.
	fraHeader := BatchHeader{After: 0, Through: 10, Head: 10}
	r, err = ufed.apply(ctx, "FRA", fraHeader, b2.envelope)
	if !errors.Is(err, envelope.ErrUnknownKey) || r == nil || r.Envelope == "" {
		t.Errorf("apply GBR's envelope from FRA = %+v, %v; want refused whole, unknown key", r, err)
	}
	if r, err := ufed.apply(ctx, "FRA", fraHeader, b2.envelope); r != nil || err == nil {
		t.Errorf("the same refusal again = %+v, %v; want an error without a second receipt", r, err)
	}
	tampered := bytes.Clone(b2.envelope)
	tampered[len(tampered)-200] ^= 1
	if _, err := ufed.apply(ctx, "GBR", b2.header, tampered); !errors.Is(err, envelope.ErrContentTampered) && !errors.Is(err, envelope.ErrBadSignature) {
		t.Errorf("apply a tampered envelope = %v; want it refused", err)
	}
	if n := count(); n != 4 {
		t.Fatalf("USA holds %d objects after refused batches; want 4", n)
	}
	if _, err := ufed.apply(ctx, "GBR", b2.header, b2.envelope); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, usa, 1, 10)
	refusals := 0
	for _, e := range usa.events(ledger.KindEnvelopeReceived) {
		if e.Details["refused"] == "envelope" {
			refusals++
		}
	}
	if refusals != 3 { // the replay, the wrong link (once), the tampered envelope
		t.Errorf("USA's audit log records %d envelopes refused; want 3", refusals)
	}
	usa.verifyLedger()
}

// TestHandlers checks the sync API's answers to callers that break the
// protocol, over mutual TLS.
func TestHandlers(t *testing.T) {
	tn := newNet(t, "GBR", "USA")
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	gbr.publish(bulk(t, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", 1, 10))
	tn.pin()
	tn.start(gbr) // USA does not run: its requests are made here
	cfg, err := partner.ClientConfig(tn.tlsOptions(usa), "GBR")
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	base := "https://" + gbr.addr
	do := func(method, path, body string) (int, http.Header, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", PathBatch + "?after=0&limit=0&acked=0", "", 400},
		{"GET", PathBatch + "?after=0&limit=10", "", 400},
		{"GET", PathBatch + "?after=0&limit=10&acked=1", "", 400},   // acknowledges past after
		{"GET", PathBatch + "?after=20&limit=10&acked=20", "", 409}, // past the head
		{"POST", PathReceipt, `{"after":0,"through":99}`, 400},
		{"POST", PathReceipt, `{"after":5,"through":1}`, 400},
		{"POST", PathNotify, `{"head":"x"}`, 400},
		{"POST", PathNotify, `{"head":3} {}`, 400},
	} {
		if code, _, body := do(tc.method, tc.path, tc.body); code != tc.want {
			t.Errorf("%s %s %s = %d %q; want %d", tc.method, tc.path, tc.body, code, body, tc.want)
		}
	}
	code, h, body := do("GET", PathBatch+"?after=0&limit=100&acked=0", "")
	if code != 200 || h.Get(HeaderThrough) != "10" || h.Get("Content-Type") != ContentTypeEnvelope || len(body) == 0 {
		t.Fatalf("GET the first batch = %d %v (%d bytes)", code, h, len(body))
	}
	if code, h, body := do("GET", PathBatch+"?after=10&limit=100&acked=10", ""); code != 200 || h.Get(HeaderThrough) != "10" || body != "" {
		t.Errorf("GET after the end = %d %v %q; want an empty range", code, h, body)
	}
	// Acknowledged and removed: asking again from 0 is a cursor gone back.
	if code, _, body := do("GET", PathBatch+"?after=0&limit=100&acked=0", ""); code != http.StatusConflict || !strings.Contains(body, "went back") {
		t.Errorf("GET after 0 once 10 was acknowledged = %d %q; want 409 saying the cursor went back", code, body)
	}
	// Without a client certificate the handshake fails; without TLS at
	// all (a mux mounted elsewhere by mistake) the handler refuses.
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}}}
	if _, err := noCert.Get(base + PathBatch + "?after=0&limit=1&acked=0"); err == nil {
		t.Error("a client without a certificate was answered")
	}
	rec := httptest.NewRecorder()
	gbr.fed.serveBatch(rec, httptest.NewRequest("GET", PathBatch+"?after=0&limit=1&acked=0", nil))
	if rec.Code != http.StatusUnauthorized {
		t.Errorf("a request without TLS = %d; want 401", rec.Code)
	}
	// A partner GBR does not pull from cannot notify it.
	data, fp := card(t, usa, nil)
	if _, err := partner.NewStore(gbr.dir, "GBR").Add(data, partner.AddOptions{Replace: true, Fingerprint: fp}); err != nil {
		t.Fatal(err)
	}
	gbr.stop()
	tn.start(gbr)
	cfg, _ = partner.ClientConfig(tn.tlsOptions(usa), "GBR")
	client = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	if code, _, body := do("POST", PathNotify, `{"head":3}`); code != http.StatusNotFound || !strings.Contains(body, "names no endpoint") {
		t.Errorf("notify from a partner without an endpoint = %d %q; want 404", code, body)
	}
	if ev := gbr.events(ledger.KindEnvelopeSent); !slices.ContainsFunc(ev, func(e ledger.Event) bool { return e.Details["through"] == "10" }) {
		t.Errorf("GBR's audit log has no entry for the batch it sent: %+v", ev)
	}
}

// card is the node's card naming endpoints, and its fingerprint.
func card(t *testing.T, n *testNode, endpoints []string) ([]byte, string) {
	t.Helper()
	c, data, err := partner.NodeCard(n.node, endpoints, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp, err := c.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	return data, fp.String()
}
