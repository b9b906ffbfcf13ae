package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/synth"
	"github.com/tearline/tearline/taxii"
)

// partnersWrite lets pinned partners read and write every collection:
// a node that takes in what partners push over TAXII.
type partnersWrite struct{}

func (partnersWrite) Access(_ context.Context, p taxii.Principal, _ tearline.Collection) (taxii.Access, error) {
	ok := p.Kind == taxii.Partner
	return taxii.Access{Read: ok, Write: ok}, nil
}

// serveWritable serves the node at dir as 'tearline serve' mounts its
// TAXII handler (mutual TLS with pinned partners, the release view), except
// that partners may also write; it returns the base URL.
func serveWritable(t *testing.T, dir string) string {
	t.Helper()
	n, s := openNodeStore(t, dir)
	cert, err := n.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pins, err := partner.StorePeers(partner.NewStore(n.Dir, n.Config.Node.Partner))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := partner.ServerConfig(partner.TLSOptions{Certificate: cert, Pins: pins})
	if err != nil {
		t.Fatal(err)
	}
	key, err := cursorKey(n.Dir)
	if err != nil {
		t.Fatal(err)
	}
	vis, err := newReleaseVisibility(n, s)
	if err != nil {
		t.Fatal(err)
	}
	h, err := taxii.New(taxii.Config{Store: s, Authenticator: tlsPartners{pins: pins}, Authorizer: partnersWrite{},
		Visibility: vis, CursorKey: key, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, TLSConfig: cfg, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, cfg))
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String()
}

// exported returns the objects of the node's default collection by id.
func exported(t *testing.T, dir string) map[string]map[string]any {
	t.Helper()
	out, errs, code := run(t, "", "export", "--dir", dir, "--format", "jsonl")
	if code != 0 {
		t.Fatal(errs)
	}
	m := map[string]map[string]any{}
	for _, o := range objectsOf(t, []byte(out)) {
		obj := o.(map[string]any)
		m[obj["id"].(string)] = obj
	}
	return m
}

// TestPushToPartnerNode: GBR pushes its collection to FRA's node over
// mutual TLS; FRA receives exactly what GBR's release engine allows it,
// with the marking definitions that let it read the labels, and GBR's audit
// log records the release. FRA's plain 'tearline serve', which partners
// may not write to, refuses with the reason.
func TestPushToPartnerNode(t *testing.T) {
	gbr := initNode(t)
	fra := mustInit(t, "FRA", "DGSI")
	pinEachOther(t, gbr, fra)
	run(t, "", "agreement", "add", "--dir", gbr, "../../policy/examples/gbr-fra.yaml")
	const (
		forFRA  = "indicator--8b3f4e5d-6c70-4b82-8c9d-1e2f3a4b5c6d"
		forFVEY = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
	)
	input := labelledIndicator(t, forFRA, "GBR SECRET//REL TO GBR, FRA") + labelledIndicator(t, forFVEY, "GBR SECRET//REL TO USA, GBR, FVEY")
	if _, errs, code := run(t, input, "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}
	held := exported(t, gbr)
	want := []string{forFRA}
	for _, ref := range held[forFRA]["object_marking_refs"].([]any) {
		if _, ok := held[ref.(string)]; ok {
			want = append(want, ref.(string))
		}
	}
	sort.Strings(want)
	if len(want) < 2 {
		t.Fatalf("the test label has no stored marking definition: %v", held[forFRA])
	}

	base := serveWritable(t, fra)
	pinEndpoint(t, fra, gbr, base)
	if _, errs, code := run(t, "", "push", base, "--collection", "default", "--dir", gbr, "--local"); code != 2 || !strings.Contains(errs, "FRA's endpoint") {
		t.Errorf("push --local to a partner: exit %d %q; want a usage error", code, errs)
	}
	out, errs, code := run(t, "", "push", base, "--collection", "default", "--dir", gbr)
	if code != 0 {
		t.Fatalf("push to FRA: exit %d %q %q", code, out, errs)
	}
	sent := fmt.Sprintf("%d objects sent in 1 envelope(s), %d stored, 0 refused", len(want), len(want))
	if !strings.Contains(out, "withheld by the release engine: 1 deny") || !strings.Contains(out, sent) {
		t.Errorf("push output %q; want %q and 1 withheld", out, sent)
	}
	if got := storedIDs(t, fra); !slices.Equal(got, want) {
		t.Errorf("FRA holds %v; want %v: the object released to FRA and its marking definitions", got, want)
	}
	// The definitions came along: FRA reads the label GBR put on it.
	if out, _, _ := run(t, "", "explain", "--dir", fra, forFRA, "--to", "GBR"); !strings.Contains(out, "GBR SECRET//REL TO FRA, GBR") {
		t.Errorf("FRA cannot read the pushed object's label:\n%s", out)
	}
	log, _, _ := run(t, "", "audit", "log", "--dir", gbr, "--kind", "release-decided")
	if !strings.Contains(log, forFRA) || !strings.Contains(log, "FRA") || strings.Contains(log, forFVEY) {
		t.Errorf("GBR's audit log of releases:\n%s\nwant %s released to FRA and not %s", log, forFRA, forFVEY)
	}
	// Again: the server has them already; a duplicate is a success.
	if out, errs, code := run(t, "", "push", base, "--collection", "default", "--dir", gbr); code != 0 || !strings.Contains(out, sent) {
		t.Errorf("second push: exit %d %q %q", code, out, errs)
	}

	// FRA's own 'tearline serve' lets partners read, not write.
	plain := serveNode(t, fra)
	pinEndpoint(t, fra, gbr, plain)
	_, errs, code = run(t, "", "push", plain, "--collection", "default", "--dir", gbr)
	if code != 1 || !strings.Contains(errs, "can_write is false") || !strings.Contains(errs, "nothing sent") {
		t.Errorf("push to a read-only node: exit %d %q; want a refusal naming can_write", code, errs)
	}
	if got := storedIDs(t, fra); !slices.Equal(got, want) {
		t.Errorf("FRA holds %v after a refused push; want it unchanged", got)
	}
}

// TestPushRefusesUnpinnedURL: a URL that is no pinned partner's endpoint
// gets nothing without --local, and is not even contacted.
func TestPushRefusesUnpinnedURL(t *testing.T) {
	dir := initNode(t)
	var data bytes.Buffer
	synth.New(2).WriteJSONLines(&data, 20)
	run(t, data.String(), "import", "--dir", dir, "-")
	m := newMiniTAXII(t)
	_, errs, code := run(t, "", "push", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", m.caFile(t))
	if code != 1 || !strings.Contains(errs, "push refused, nothing sent") || !strings.Contains(errs, "--local") {
		t.Errorf("push to an unpinned URL: exit %d %q; want a refusal pointing at --local", code, errs)
	}
	if len(m.requests) != 0 {
		t.Errorf("the server was contacted: %v", m.requests)
	}
}

// TestPushLocal sends a collection to an independent TAXII server of the
// node's own organisation: envelopes within its max_content_length, every
// object once and in order, the server's refusals reported, the export
// recorded in the audit log.
func TestPushLocal(t *testing.T) {
	dir := initNode(t)
	var data bytes.Buffer
	synth.New(4).WriteJSONLines(&data, 200)
	if _, errs, code := run(t, data.String(), "import", "--dir", dir, "-"); code != 0 {
		t.Fatal(errs)
	}
	var local []string
	for _, line := range strings.Split(strings.TrimSpace(data.String()), "\n") {
		var o struct{ ID string }
		json.Unmarshal([]byte(line), &o)
		local = append(local, o.ID)
	}
	m := newMiniTAXII(t)
	m.maxContent = 16 << 10
	m.auth = "Bearer siem-token"
	refused := local[10]
	m.refuse[refused] = "collection quota reached for this type"
	token := filepath.Join(t.TempDir(), "token")
	os.WriteFile(token, []byte("siem-token\n"), 0o600)
	out, errs, code := run(t, "", "push", m.srv.URL+"/taxii2/", "--collection", miniCollection, "--dir", dir,
		"--ca-file", m.caFile(t), "--token-file", token, "--local")
	if code != 3 {
		t.Fatalf("push --local with one refusal: exit %d %q %q; want 3", code, out, errs)
	}
	if !strings.Contains(errs, "refused by the server: "+refused) || !strings.Contains(errs, "collection quota reached") {
		t.Errorf("stderr %q; want the refused object and the server's reason", errs)
	}
	if len(m.posts) < 3 {
		t.Errorf("%d envelopes for 200 objects of about 500 bytes under a 16 KiB limit; want several", len(m.posts))
	}
	for i, p := range m.posts {
		if len(p) > m.maxContent {
			t.Errorf("envelope %d is %d bytes; the server's max_content_length is %d", i, len(p), m.maxContent)
		}
	}
	var got []string
	for _, o := range m.objects {
		var v struct{ ID string }
		json.Unmarshal(o.raw, &v)
		got = append(got, v.ID)
	}
	want := slices.DeleteFunc(slices.Clone(local), func(id string) bool { return id == refused })
	if !slices.Equal(got, want) {
		t.Errorf("the server stored %d objects; want the node's %d, once each and in order, but the refused one", len(got), len(want))
	}
	if !strings.Contains(out, "200 objects sent") || !strings.Contains(out, "199 stored, 1 refused") {
		t.Errorf("summary %q", out)
	}
	if log, _, _ := run(t, "", "audit", "log", "--dir", dir, "--kind", "object-exported", "--object", local[199]); !strings.Contains(log, "object-exported") || !strings.Contains(log, "destination=local") {
		t.Errorf("audit log of exports:\n%s\nwant the objects sent", log)
	}

	// Filters select what goes.
	m2 := newMiniTAXII(t)
	if out, errs, code := run(t, "", "push", m2.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", m2.caFile(t),
		"--local", "--type", "identity", "--versions", "last"); code != 0 || !strings.Contains(out, "8 stored") {
		t.Errorf("push --type identity: exit %d %q %q; want the 8 identities", code, out, errs)
	}
	for _, o := range m2.objects {
		if !bytes.Contains(o.raw, []byte(`"type":"identity"`)) {
			t.Errorf("push --type identity sent %s", o.raw)
		}
	}
}

// TestBenchTAXII runs the TAXII load scenario small: every object posted
// is read back through the partner's release view, and no request fails.
func TestBenchTAXII(t *testing.T) {
	out, errs, code := run(t, "", "bench", "taxii", "--objects", "2500", "--clients", "6", "--duration", "500ms", "--samples", "5", "--json")
	if code != 0 {
		t.Fatalf("bench taxii: exit %d %q %q", code, out, errs)
	}
	var res taxiiBenchResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench taxii output %q: %v", out, err)
	}
	if res.Get.Objects != 2500 || res.Post.Envelopes != 3 || res.Load.Errors != 0 || res.Load.Pages == 0 || res.PeakRSSBytes == 0 || res.PeakHeapBytes == 0 || res.Load.PeakHeapBytes == 0 {
		t.Errorf("bench taxii = %+v; want 2,500 objects posted in 3 envelopes and read back, pages under load, no errors", res)
	}
}
