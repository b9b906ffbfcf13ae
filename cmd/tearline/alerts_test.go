package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/analytics/webhook"
	"github.com/tearline/tearline/node"
)

// lockedBuffer is a buffer the serving goroutine writes while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hookReceiver is a webhook endpoint on 127.0.0.1 that keeps the alerts
// whose signature verifies and counts those that do not.
type hookReceiver struct {
	srv    *httptest.Server
	secret []byte
	mu     sync.Mutex
	alerts []analytics.Alert
	bad    []string
	got    chan struct{}
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	t.Helper()
	h := &hookReceiver{secret: []byte(secret), got: make(chan struct{}, 100)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err != nil {
			h.bad = append(h.bad, err.Error())
			http.Error(w, "unreadable", http.StatusBadRequest)
			return
		}
		if err := webhook.Verify(h.secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
			h.bad = append(h.bad, err.Error())
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var a analytics.Alert
		if err := json.Unmarshal(body, &a); err != nil {
			h.bad = append(h.bad, err.Error())
			http.Error(w, "not an alert", http.StatusBadRequest)
			return
		}
		if r.Header.Get(webhook.DeliveryHeader) != a.ID {
			h.bad = append(h.bad, "delivery header "+r.Header.Get(webhook.DeliveryHeader)+" is not the alert's id "+a.ID)
		}
		h.alerts = append(h.alerts, a)
		w.WriteHeader(http.StatusNoContent)
		h.got <- struct{}{}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) snapshot() ([]analytics.Alert, []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]analytics.Alert(nil), h.alerts...), append([]string(nil), h.bad...)
}

// waitAlert waits until the receiver holds an alert about sighting id.
func (h *hookReceiver) waitAlert(t *testing.T, id string, logs *lockedBuffer) analytics.Alert {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		alerts, _ := h.snapshot()
		for _, a := range alerts {
			if a.SightingObject == id {
				return a
			}
		}
		select {
		case <-h.got:
		case <-deadline:
			t.Fatalf("no alert about %s within 20s; received %+v\nnode log:\n%s", id, alerts, logs.String())
		}
	}
}

// TestAlertsWebhookEndToEnd: tearline serve delivers, to each configured
// webhook, the signed alerts of its viewer's view: a partner's SECRET
// indicator sighted locally alerts the user cleared for it, and never the
// user who is not, who still receives the alerts of what they may see.
func TestAlertsWebhookEndToEnd(t *testing.T) {
	oldPoll := alertPollInterval
	alertPollInterval = 100 * time.Millisecond
	t.Cleanup(func() { alertPollInterval = oldPoll })

	dir := initNode(t)
	const partnerInd = "indicator--5e0c4a1b-2d3e-4f50-8a6b-7c8d9e0f1a2b"
	const officialInd = "indicator--5e0c4a1b-2d3e-4f50-8a6b-000000000002"
	indicator := func(id, domain string) string {
		return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z",`+
			`"pattern":"[domain-name:value = '%s']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z","confidence":80}`+"\n", id, domain)
	}
	sighting := func(id, of string) string {
		at := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		return fmt.Sprintf(`{"type":"sighting","spec_version":"2.1","id":%q,"created":%q,"modified":%q,"sighting_of_ref":%q,"count":2,"first_seen":%q,"last_seen":%q}`+"\n",
			id, at, at, of, at, at)
	}
	imp := func(banner, content string) {
		t.Helper()
		if out, errs, code := run(t, content, "import", "--dir", dir, "--banner", banner, "-"); code != 0 {
			t.Fatalf("import under %q: exit %d %s %s", banner, code, out, errs)
		}
	}
	// A partner's indicator, SECRET; one of the node's own, OFFICIAL.
	imp("GBR SECRET//ORIGINATOR FRA//GRADE B2//PAP:AMBER", indicator(partnerInd, "relay.example"))
	imp("GBR OFFICIAL", indicator(officialInd, "phish.example"))
	for _, args := range [][]string{
		{"soc", "--nationality", "GBR", "--clearance", "GBR:SECRET"},
		{"desk", "--nationality", "GBR", "--clearance", "GBR:OFFICIAL"},
	} {
		if out, errs, code := run(t, "", append([]string{"user", "add", "--dir", dir}, args...)...); code != 0 {
			t.Fatalf("user add %v: exit %d %s %s", args, code, out, errs)
		}
	}

	cleared := newHookReceiver(t, "soc-secret-0123456789abcdef")
	uncleared := newHookReceiver(t, "desk-secret-0123456789abcdef")
	t.Setenv("TEST_SOC_HOOK_SECRET", "soc-secret-0123456789abcdef")
	t.Setenv("TEST_DESK_HOOK_SECRET", "desk-secret-0123456789abcdef")
	cfgPath := filepath.Join(dir, node.ConfigFile)
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg = append(cfg, fmt.Sprintf("alerts:\n  webhooks:\n    - url: %s/hook\n      viewer: soc\n      secret_env: TEST_SOC_HOOK_SECRET\n"+
		"    - url: %s/hook\n      viewer: desk\n      secret_env: TEST_DESK_HOOK_SECRET\n", cleared.srv.URL, uncleared.srv.URL)...)
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, logs lockedBuffer
	served := make(chan int, 1)
	go func() {
		served <- Main(ctx, []string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, strings.NewReader(""), &stdout, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-served; code != 0 {
			t.Errorf("serve: exit %d\n%s", code, logs.String())
		}
	})
	waitAlertsReady(t, &logs, 2)

	// A local sighting of the partner's indicator: only soc may see the
	// indicator, so only soc's endpoint hears of it.
	const secretSighting = "sighting--0b1c2d3e-4f50-4a6b-8c7d-000000000001"
	imp("GBR OFFICIAL", sighting(secretSighting, partnerInd))
	a := cleared.waitAlert(t, secretSighting, &logs)
	if a.Viewer != "soc" || a.Kind != analytics.AlertMatch || len(a.Findings) != 1 {
		t.Fatalf("soc's alert = %+v; want one match finding for soc", a)
	}
	f := a.Findings[0]
	if f.Observable.String() != "domain-name:relay.example" || len(f.Reports) != 1 || f.Reports[0].Object != partnerInd ||
		f.Reports[0].Originator != "FRA" || f.Reports[0].Grade != "B2" || !strings.Contains(f.Reports[0].Label, "SECRET") {
		t.Errorf("soc's finding = %+v; want FRA's SECRET indicator %s of relay.example, graded B2", f, partnerInd)
	}
	if a.Actions.Level != analytics.ActionsIndirect {
		t.Errorf("soc's alert actions = %v; want %v (PAP:AMBER)", a.Actions.Level, analytics.ActionsIndirect)
	}

	// A sighting desk may see the indicator of: desk's endpoint receives
	// it, after anything about the first sighting, since one endpoint's
	// alerts are delivered in order.
	const officialSighting = "sighting--0b1c2d3e-4f50-4a6b-8c7d-000000000002"
	imp("GBR OFFICIAL", sighting(officialSighting, officialInd))
	uncleared.waitAlert(t, officialSighting, &logs)
	cleared.waitAlert(t, officialSighting, &logs)
	alerts, bad := uncleared.snapshot()
	for _, a := range alerts {
		if a.SightingObject == secretSighting || strings.Contains(fmt.Sprint(a), "relay.example") || strings.Contains(fmt.Sprint(a), partnerInd) {
			t.Errorf("desk, not cleared for the partner's indicator, received %+v", a)
		}
		if a.Viewer != "desk" {
			t.Errorf("desk's endpoint received an alert for %q", a.Viewer)
		}
	}
	_, badCleared := cleared.snapshot()
	if len(bad)+len(badCleared) > 0 {
		t.Errorf("deliveries refused by the receivers: %v %v", bad, badCleared)
	}
}

// waitAlertsReady waits until the serving node's corpus is built and its
// webhooks are subscribed.
func waitAlertsReady(t *testing.T, logs *lockedBuffer, want int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ready := false
		alertServices.Range(func(_, v any) bool {
			a := v.(*alertService)
			_, err := a.built()
			ready = err == nil && int(a.feeding.Load()) == want
			return !ready
		})
		if ready {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("early warning not ready within 20s\n%s", logs.String())
}
