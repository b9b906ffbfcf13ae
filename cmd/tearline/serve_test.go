package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
)

// partnerClient is an HTTPS client for the node at dir, dialling partner
// `to` with its pinned certificate.
func partnerClient(t *testing.T, dir, to string) *http.Client {
	t.Helper()
	n, err := node.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := n.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pins, err := partner.StorePeers(partner.NewStore(n.Dir, n.Config.Node.Partner))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := partner.ClientConfig(partner.TLSOptions{Certificate: cert, Pins: pins}, to)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func taxiiGet(t *testing.T, c *http.Client, url string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v map[string]any
	json.Unmarshal(body, &v)
	return resp.StatusCode, v
}

// TestServePerPartnerViews serves GBR's node over mutual TLS: FRA sees the
// object released to it and nothing else; DEU, pinned but under no
// agreement, sees nothing; an unpinned node cannot connect.
func TestServePerPartnerViews(t *testing.T) {
	gbr := initNode(t)
	fra := t.TempDir() + "/fra"
	deu := t.TempDir() + "/deu"
	run(t, "", "init", "--partner", "FRA", "--name", "DGSI", "--dir", fra)
	run(t, "", "init", "--partner", "DEU", "--name", "BfV", "--dir", deu)
	pinEachOther(t, gbr, fra)
	pinEachOther(t, gbr, deu)
	run(t, "", "agreement", "add", "--dir", gbr, "../../policy/examples/gbr-fra.yaml")
	const (
		forFRA  = "indicator--8b3f4e5d-6c70-4b82-8c9d-1e2f3a4b5c6d"
		forFVEY = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
	)
	input := labelledIndicator(t, forFRA, "GBR SECRET//REL TO GBR, FRA") + labelledIndicator(t, forFVEY, "GBR SECRET//REL TO USA, GBR, FVEY")
	if _, errs, code := run(t, input, "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}

	n, s := openNodeStore(t, gbr)
	defer func(d time.Duration) { checkpointInterval = d }(checkpointInterval)
	checkpointInterval = 20 * time.Millisecond
	srv, err := newNodeServer(n, s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	base := "https://" + ln.Addr().String()
	coll, err := s.Collection(context.Background(), defaultCollection)
	if err != nil {
		t.Fatal(err)
	}
	objectsURL := base + "/tearline/collections/" + coll.ID + "/objects/"

	fraClient := partnerClient(t, fra, "GBR")
	if code, v := taxiiGet(t, fraClient, base+"/taxii2/"); code != 200 || v["title"] == nil {
		t.Fatalf("discovery for FRA: %d %v", code, v)
	}
	code, v := taxiiGet(t, fraClient, objectsURL)
	if code != 200 {
		t.Fatalf("objects for FRA: %d %v", code, v)
	}
	objs, _ := v["objects"].([]any)
	if len(objs) != 1 || objs[0].(map[string]any)["id"] != forFRA {
		t.Errorf("FRA sees %v; want only %s", v, forFRA)
	}
	if code, _ := taxiiGet(t, fraClient, objectsURL+forFVEY+"/"); code != 404 {
		t.Errorf("FRA asking for the FVEY object: %d; want 404, as if it did not exist", code)
	}
	code, v = taxiiGet(t, partnerClient(t, deu, "GBR"), objectsURL)
	if code != 200 || v["objects"] != nil {
		t.Errorf("DEU (no agreement) sees %d %v; want no objects", code, v)
	}
	// The import was recorded; the server checkpoints the audit log.
	st, _ := nodeLedger(s)
	deadline := time.Now().Add(10 * time.Second)
	for {
		cps, err := st.Checkpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cps) > 0 {
			if _, _, err := ledger.OpenCheckpoint(cps[0], ledger.NewVerifier(logOrigin(n), n.SigningPublicKey)); err != nil {
				t.Errorf("the server's checkpoint does not verify: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint signed while serving")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// FRA checks GBR's log: the checkpoint is signed by the key on GBR's
	// card, and entry 0 is in the tree it commits to.
	resp, err := fraClient.Get(base + "/ledger/checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	cp, _, err := ledger.OpenCheckpoint(signed, ledger.NewVerifier(logOrigin(n), n.SigningPublicKey))
	if err != nil || cp.Size == 0 {
		t.Fatalf("GET /ledger/checkpoint = %q: %v", signed, err)
	}
	resp, err = fraClient.Get(fmt.Sprintf("%s/ledger/proof/inclusion?index=0&size=%d", base, cp.Size))
	if err != nil {
		t.Fatal(err)
	}
	var hexPath []string
	json.NewDecoder(resp.Body).Decode(&hexPath)
	resp.Body.Close()
	path := make([][]byte, len(hexPath))
	for i, h := range hexPath {
		path[i], _ = hex.DecodeString(h)
	}
	entry, err := st.Entry(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := ledger.VerifyInclusion(entry, 0, cp.Size, cp.Root, path); err != nil {
		t.Errorf("inclusion proof from the server does not verify against its checkpoint: %v", err)
	}
	if resp, err := fraClient.Get(base + "/ledger/proof/consistency?from=5&to=1"); err != nil || resp.StatusCode != 400 {
		t.Errorf("a bad consistency request: %v %v; want 400", resp.StatusCode, err)
	}
	// FRA witnesses GBR's log: first sight, then an extension, then a
	// checkpoint that forks from what it saw.
	if out, errs, code := run(t, "", "audit", "witness", "GBR", "--dir", fra, "--endpoint", base); code != 0 || !strings.Contains(out, "consistent") {
		t.Fatalf("audit witness (first): exit %d %q %q", code, out, errs)
	}
	// GBR kept FRA's cosignature on its checkpoint.
	fraNode, err := node.Load(fra)
	if err != nil {
		t.Fatal(err)
	}
	cosigned := false
	cps, _ := st.Checkpoints(context.Background())
	for _, c := range cps {
		_, names, err := ledger.OpenCosigned(c, ledger.NewVerifier(logOrigin(n), n.SigningPublicKey),
			ledger.NewCosignatureVerifier("tearline/FRA", fraNode.SigningPublicKey))
		if err == nil && slices.Contains(names, "tearline/FRA") {
			cosigned = true
		}
	}
	if !cosigned {
		t.Error("GBR holds no checkpoint cosigned by FRA after FRA witnessed it")
	}
	more := labelledIndicator(t, "indicator--9d4b5c6e-7f80-4a91-8b2c-3d4e5f6a7b8c", "GBR SECRET//REL TO GBR, FRA")
	if _, errs, code := run(t, more, "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cps, _ := st.Checkpoints(context.Background())
		last, _, err := ledger.OpenCheckpoint(cps[len(cps)-1], ledger.NewVerifier(logOrigin(n), n.SigningPublicKey))
		if err == nil && last.Size > cp.Size {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no new checkpoint after the log grew")
		}
	}
	if out, errs, code := run(t, "", "audit", "witness", "GBR", "--dir", fra, "--endpoint", base); code != 0 || !strings.Contains(out, "consistent") {
		t.Fatalf("audit witness (extension): exit %d %q %q", code, out, errs)
	}
	// DEU's own server witnesses GBR on its own, once GBR's card names
	// where GBR serves.
	gbrCard, errs, code := run(t, "", "partner", "card", "--dir", gbr, "--endpoint", base)
	if code != 0 {
		t.Fatal(errs)
	}
	cardFile := filepath.Join(t.TempDir(), "gbr-endpoint.card")
	writeFile(t, cardFile, gbrCard)
	if _, errs, code := run(t, "", "partner", "add", "--dir", deu, cardFile); code != 0 {
		t.Fatalf("DEU re-pins GBR's card with its endpoint: %s", errs)
	}
	defer func(d time.Duration) { witnessInterval = d }(witnessInterval)
	witnessInterval = 20 * time.Millisecond
	deuNode, deuStore := openNodeStore(t, deu)
	deuSrv, err := newNodeServer(deuNode, deuStore, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	deuLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deuCtx, stopDEU := context.WithCancel(context.Background())
	deuDone := make(chan error, 1)
	go func() { deuDone <- deuSrv.serve(deuCtx, deuLn) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		found := false
		cps, _ := st.Checkpoints(context.Background())
		for _, c := range cps {
			_, names, err := ledger.OpenCosigned(c, ledger.NewVerifier(logOrigin(n), n.SigningPublicKey),
				ledger.NewCosignatureVerifier("tearline/DEU", deuNode.SigningPublicKey))
			found = found || (err == nil && slices.Contains(names, "tearline/DEU"))
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("DEU's server never witnessed GBR's log")
		}
	}
	stopDEU()
	<-deuDone

	// A forged history at the size FRA last saw, as a lying node would
	// show one partner: FRA's next witness run must call it a split view.
	seen, err := os.ReadFile(filepath.Join(fra, "witnessed", "GBR.checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	seenCP, _, err := ledger.OpenCheckpoint(seen, ledger.NewVerifier(logOrigin(n), n.SigningPublicKey))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := ledger.SignCheckpoint(ledger.Checkpoint{Origin: logOrigin(n), Size: seenCP.Size, Root: [32]byte{0xde, 0xad}}, ledger.NewSigner(logOrigin(n), n.SigningKey))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(fra, "witnessed", "GBR.checkpoint"), string(forged))
	if _, errs, code := run(t, "", "audit", "witness", "GBR", "--dir", fra, "--endpoint", base); code == 0 || !strings.Contains(errs, "SPLIT VIEW") {
		t.Errorf("audit witness after a fork: exit %d %q; want a split view", code, errs)
	}
	if ev, _ := filepath.Glob(filepath.Join(fra, "witnessed", "GBR.splitview-*")); len(ev) != 1 {
		t.Errorf("split-view evidence files: %v; want one", ev)
	}
	// A node GBR has not pinned cannot even connect.
	nld := t.TempDir() + "/nld"
	run(t, "", "init", "--partner", "NLD", "--name", "AIVD", "--dir", nld)
	card, errs, _ := run(t, "", "partner", "card", "--dir", gbr)
	fp := strings.TrimSpace(errs[strings.Index(errs, "SHA256:"):])
	if i := strings.IndexAny(fp, " \n"); i > 0 {
		fp = fp[:i]
	}
	file := t.TempDir() + "/gbr.card"
	writeFile(t, file, card)
	run(t, "", "partner", "add", "--dir", nld, file, "--fingerprint", fp)
	req, _ := http.NewRequest("GET", base+"/taxii2/", nil)
	if _, err := partnerClient(t, nld, "GBR").Do(req); err == nil {
		t.Error("an unpinned node completed a request; want the handshake refused")
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
