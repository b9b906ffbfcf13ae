package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
)

// serveUntilCheckpointed serves the node in dir on 127.0.0.1 until the test ends and
// returns its base URL once it has signed a checkpoint of its log.
func serveUntilCheckpointed(t *testing.T, dir string) string {
	t.Helper()
	n, s := openNodeStore(t, dir)
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
	t.Cleanup(func() { cancel(); <-done })
	st, err := nodeLedger(s)
	if err != nil {
		t.Fatal(err)
	}
	size, err := ledger.New(st).Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		cps, err := st.Checkpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cps) > 0 {
			if cp, _, err := ledger.OpenCheckpoint(cps[len(cps)-1], ledger.NewVerifier(logOrigin(n), n.SigningPublicKey)); err == nil && cp.Size == size {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint of the whole log signed while serving")
		}
	}
	return "https://" + ln.Addr().String()
}

// TestForkedLogDetected: GBR's node is copied and the two copies go on
// separately, so that GBR shows two different histories of its audit log
// under one key. FRA witnesses the first, then the second: it detects the
// split view, keeps the evidence and raises an alert in its own audit log.
func TestForkedLogDetected(t *testing.T) {
	defer func(d time.Duration) { checkpointInterval = d }(checkpointInterval)
	checkpointInterval = 20 * time.Millisecond
	gbr := initNode(t)
	fra := filepath.Join(t.TempDir(), "fra")
	if _, errs, code := run(t, "", "init", "--partner", "FRA", "--name", "DGSI", "--dir", fra); code != 0 {
		t.Fatal(errs)
	}
	pinEachOther(t, gbr, fra)
	if _, errs, code := run(t, labelledIndicator(t, "indicator--8b3f4e5d-6c70-4b82-8c9d-1e2f3a4b5c6d", "GBR SECRET//REL TO GBR, FRA"), "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}
	// The fork: a copy of the whole node, keys and database included.
	fork := filepath.Join(t.TempDir(), "gbr-fork")
	if out, err := exec.Command("cp", "-a", gbr, fork).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if _, errs, code := run(t, labelledIndicator(t, "indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "GBR OFFICIAL"), "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}
	if _, errs, code := run(t, labelledIndicator(t, "indicator--9f8e7d6c-5b4a-4392-8187-6f5e4d3c2b1a", "GBR SECRET"), "import", "--dir", fork, "-"); code != 0 {
		t.Fatal(errs)
	}
	honest, forked := serveUntilCheckpointed(t, gbr), serveUntilCheckpointed(t, fork)

	if out, errs, code := run(t, "", "audit", "witness", "--dir", fra, "GBR", "--endpoint", honest); code != 0 || !strings.Contains(out, "cosigned") {
		t.Fatalf("FRA witnessing GBR: exit %d %s %s", code, out, errs)
	}
	_, errs, code := run(t, "", "audit", "witness", "--dir", fra, "GBR", "--endpoint", forked)
	if code == 0 || !strings.Contains(errs, "SPLIT VIEW") {
		t.Fatalf("FRA witnessing GBR's fork: exit %d %q; want a split view", code, errs)
	}
	evidence, _ := filepath.Glob(filepath.Join(fra, "witnessed", "GBR.splitview-*"))
	if len(evidence) != 1 {
		t.Fatalf("split view evidence files: %v; want one", evidence)
	}
	data, err := os.ReadFile(evidence[0])
	if err != nil || strings.Count(string(data), "tearline/GBR") < 2 {
		t.Errorf("evidence %s holds %q (%v); want both signed checkpoints", evidence[0], data, err)
	}
	out, _, _ := run(t, "", "audit", "log", "--dir", fra, "--kind", "alert-raised")
	if !strings.Contains(out, "alert-raised") || !strings.Contains(out, "GBR") {
		t.Errorf("FRA's audit log --kind alert-raised =\n%s\nwant the split view alert", out)
	}
	// Seeing the same fork again keeps the evidence and raises no second
	// alert.
	run(t, "", "audit", "witness", "--dir", fra, "GBR", "--endpoint", forked)
	again, _, _ := run(t, "", "audit", "log", "--dir", fra, "--kind", "alert-raised")
	if strings.Count(again, "alert-raised") != strings.Count(out, "alert-raised") {
		t.Errorf("the same fork seen twice raised a second alert:\n%s", again)
	}
	// The alert also comes out of witnessOnce as a typed error, as serve's
	// periodic witnessing sees it.
	n, err := node.Load(fra)
	if err != nil {
		t.Fatal(err)
	}
	_, err = witnessOnce(n, "GBR", forked)
	var sv *splitViewError
	if !errors.As(err, &sv) || sv.partner != "GBR" || sv.new {
		t.Errorf("witnessOnce(the fork again) = %v; want a known split view of GBR", err)
	}
}
