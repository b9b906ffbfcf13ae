package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/sqlite"
)

// fedNode is a node made with the CLI, with the example agreements, that
// listens on 127.0.0.1.
type fedNode struct {
	code, dir string
	ln        net.Listener
	addr      string
}

// fedNodes initialises the nodes, adds the example agreements to each, and
// has each pin every other's card naming the address it will serve on.
func fedNodes(t *testing.T, codes ...string) map[string]*fedNode {
	t.Helper()
	nodes := map[string]*fedNode{}
	for _, code := range codes {
		dir := filepath.Join(t.TempDir(), strings.ToLower(code))
		if _, errs, c := run(t, "", "init", "--partner", code, "--name", code+" liaison node", "--dir", dir); c != 0 {
			t.Fatalf("init %s: %s", code, errs)
		}
		for _, a := range []string{"fvey", "nato", "gbr-fra", "police"} {
			if _, errs, c := run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/"+a+".yaml"); c != 0 {
				t.Fatalf("%s: agreement add %s: %s", code, a, errs)
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		nodes[code] = &fedNode{code: code, dir: dir, ln: ln, addr: ln.Addr().String()}
	}
	for _, a := range nodes {
		card, errs, c := run(t, "", "partner", "card", "--dir", a.dir, "--endpoint", "https://"+a.addr)
		if c != 0 {
			t.Fatal(errs)
		}
		fp := strings.TrimSpace(errs[strings.Index(errs, "SHA256:"):])
		fp = fp[:strings.IndexAny(fp, " \n")]
		file := filepath.Join(t.TempDir(), a.code+".card")
		writeFile(t, file, card)
		for _, b := range nodes {
			if b != a {
				if _, errs, c := run(t, "", "partner", "add", "--dir", b.dir, file, "--fingerprint", fp); c != 0 {
					t.Fatalf("%s pins %s: %s", b.code, a.code, errs)
				}
			}
		}
	}
	return nodes
}

// serveFed runs the node as 'tearline serve' does, on its listener, until
// the test ends, and returns its store.
func serveFed(t *testing.T, f *fedNode) store {
	t.Helper()
	n, s := openNodeStore(t, f.dir)
	srv, err := newNodeServer(n, s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.serve(ctx, f.ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve %s: %v", f.code, err)
		}
	})
	return s
}

// heldIDs maps the ids of the objects a store holds (marking definitions
// aside) to their number of versions.
func heldIDs(t *testing.T, s store) map[string]int {
	t.Helper()
	out := map[string]int{}
	q := tearline.ObjectQuery{Collection: defaultCollection, Version: tearline.VersionFilter{All: true}, Limit: 5000}
	for {
		p, err := s.Objects(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			if o.Type != "marking-definition" {
				out[o.ID]++
			}
		}
		if !p.More {
			return out
		}
		q.After = p.Objects[len(p.Objects)-1].DateAdded
	}
}

func fedID(n int) string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n) }

// TestFederationFourNodes runs four nodes as 'tearline serve' runs them,
// each importing labelled objects with 'tearline import': once the links
// have settled, every store holds, once, exactly what the release sets
// allowed it to receive; 'tearline partner list' shows the links caught
// up, and every audit log verifies.
func TestFederationFourNodes(t *testing.T) {
	defer func(d time.Duration) { checkpointInterval = d }(checkpointInterval)
	checkpointInterval = 50 * time.Millisecond // release sets decided promptly
	nodes := fedNodes(t, "GBR", "USA", "FRA", "CAN")
	type object struct {
		n             int
		origin        string
		banner        string
		holders       []string
		beforeServing bool
	}
	objects := []object{
		{1, "GBR", "GBR SECRET//REL TO USA, GBR, FVEY", []string{"USA", "CAN"}, true},
		{2, "GBR", "GBR SECRET//REL TO GBR, FRA", []string{"FRA"}, true},
		{3, "GBR", "NATO SECRET//REL TO NATO", nil, true},
		{4, "GBR", "GBR SECRET//ORCON//REL TO USA, GBR, FVEY", []string{"USA", "CAN"}, false},
		{5, "GBR", "GBR SECRET//NOFORN", nil, false},
		{6, "FRA", "FRA SECRET//REL TO GBR, FRA", []string{"GBR"}, true},
		{7, "USA", "SECRET//REL TO USA, GBR, FVEY", []string{"GBR", "CAN"}, false},
		{8, "CAN", "CAN SECRET//REL TO USA, CAN", []string{"USA"}, false},
	}
	importOn := func(o object) {
		t.Helper()
		if _, errs, c := run(t, labelledIndicator(t, fedID(o.n), o.banner), "import", "--dir", nodes[o.origin].dir, "-"); c != 0 {
			t.Fatalf("import on %s: %s", o.origin, errs)
		}
	}
	for _, o := range objects {
		if o.beforeServing {
			importOn(o)
		}
	}
	stores := map[string]store{}
	for code, f := range nodes {
		stores[code] = serveFed(t, f)
	}
	for _, o := range objects {
		if !o.beforeServing {
			importOn(o)
		}
	}
	want := map[string]map[string]int{}
	for code := range nodes {
		want[code] = map[string]int{}
	}
	for _, o := range objects {
		for _, h := range append([]string{o.origin}, o.holders...) {
			want[h][fedID(o.n)] = 1
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		settled := true
		for code, s := range stores {
			if !maps.Equal(heldIDs(t, s), want[code]) || !caughtUp(t, s, nodes) {
				settled = false
			}
		}
		if settled {
			break
		}
		if time.Now().After(deadline) {
			for code, s := range stores {
				t.Errorf("%s holds %v; want %v", code, heldIDs(t, s), want[code])
			}
			t.Fatal("the federation did not settle")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// At rest, and it stays so: nothing else arrives.
	time.Sleep(500 * time.Millisecond)
	for code, s := range stores {
		if got := heldIDs(t, s); !maps.Equal(got, want[code]) {
			t.Errorf("%s holds %v after the federation settled; want %v", code, got, want[code])
		}
	}

	out, errs, c := run(t, "", "partner", "list", "--dir", nodes["GBR"].dir)
	if c != 0 {
		t.Fatalf("partner list: %s", errs)
	}
	for _, p := range []string{"USA", "FRA", "CAN"} {
		line := lineStarting(out, p+" ")
		if !strings.Contains(line, "0 (") || strings.Contains(line, "never") || !strings.HasSuffix(strings.TrimSpace(line), "-") {
			t.Errorf("partner list: the link with %s reads %q; want nothing left to send or receive, both sides served, no error\n%s", p, line, out)
		}
	}
	for code, f := range nodes {
		if out, errs, c := run(t, "", "audit", "verify", "--dir", f.dir); c != 0 {
			t.Errorf("audit verify on %s: exit %d %s %s", code, c, out, errs)
		}
	}
	// Every batch exchanged ends with a verified receipt on both sides,
	// once the partners' next checkpoints hold their entries of it.
	for code, f := range nodes {
		var out string
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			var errs string
			var c int
			if out, errs, c = run(t, "", "audit", "receipts", "--dir", f.dir); c != 0 {
				t.Fatalf("audit receipts on %s: exit %d %s", code, c, errs)
			}
			if strings.Contains(out, " 0 pending, 0 refused") || time.Now().After(deadline) {
				break
			}
		}
		summary := ""
		if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) > 0 {
			summary = lines[len(lines)-1]
		}
		t.Logf("audit receipts on %s: %s", code, summary)
		if !strings.HasSuffix(summary, " 0 pending, 0 refused") || strings.HasPrefix(summary, "0 receipts") {
			t.Errorf("audit receipts on %s: %q; want every receipt verified\n%s", code, summary, out)
		}
	}
	for _, p := range []string{"USA", "CAN", "FRA"} {
		out, _, _ := run(t, "", "audit", "receipts", "--dir", nodes["GBR"].dir, "--partner", strings.ToLower(p))
		if !strings.Contains(out, p+" ") || !strings.Contains(out, "sender") || !strings.Contains(out, "verified") {
			t.Errorf("audit receipts --partner %s on GBR shows no verified receipt of a batch sent:\n%s", p, out)
		}
	}
	out, _, _ = run(t, "", "audit", "log", "--dir", nodes["CAN"].dir, "--kind", "envelope-received")
	if !strings.Contains(out, "envelope-received") || !strings.Contains(out, "GBR") {
		t.Errorf("CAN's audit log has no envelope received from GBR:\n%s", out)
	}
}

func lineStarting(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) && strings.Contains(l, "acknowledged") {
			return l
		}
	}
	return ""
}

// caughtUp reports whether every node of the test has acknowledged all
// that the store queued for it.
func caughtUp(t *testing.T, s store, nodes map[string]*fedNode) bool {
	t.Helper()
	states, err := federation.States(context.Background(), s.(federation.LinkStore))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range states {
		if nodes[st.Partner] != nil && st.OutLag > 0 {
			return false
		}
	}
	return true
}

// TestFederationSenderKilled kills the sending node's 'tearline serve'
// process with SIGKILL while the receiver is pulling a long stream from it,
// and starts it again: the receiver ends up with every object once, and
// both audit logs verify.
func TestFederationSenderKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and streams 20,000 objects")
	}
	bin := buildBinary(t)
	nodes := fedNodes(t, "GBR", "USA")
	gbr, usa := nodes["GBR"], nodes["USA"]
	const total = 20000
	var lines strings.Builder
	one := labelledIndicator(t, fedID(1), "GBR SECRET//REL TO USA, GBR, FVEY")
	lines.WriteString(one)
	obj := one[strings.LastIndex(strings.TrimSpace(one), "\n")+1:]
	for i := 2; i <= total; i++ {
		lines.WriteString(strings.Replace(obj, fedID(1), fedID(i), 1))
	}
	if _, errs, c := run(t, lines.String(), "import", "--dir", gbr.dir, "-"); c != 0 {
		t.Fatalf("import: %s", errs)
	}
	// GBR serves from a child process on its address; its listener here
	// only reserved the port.
	gbr.ln.Close()
	startGBR := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--dir", gbr.dir, "--listen", gbr.addr)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	proc := startGBR()
	defer func() { proc.Process.Kill(); proc.Wait() }()
	s := serveFed(t, usa)
	ctx := context.Background()
	inbox := s.(federation.InboxStore)
	var applied uint64
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
		c, err := inbox.InboxCursor(ctx, "GBR")
		if err != nil {
			t.Fatal(err)
		}
		if applied = c.Through; applied > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("USA applied nothing from GBR")
		}
	}
	if err := proc.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	proc.Wait()
	t.Logf("killed GBR's server with %d of %d entries applied by USA", applied, total)
	if applied >= total {
		t.Fatalf("USA had everything before GBR was killed; the test needs a longer stream")
	}
	// GBR's store is consistent after the kill, and serves again.
	db, err := sqlite.OpenReadOnly(ctx, filepath.Join(gbr.dir, "tearline.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	proc = startGBR()
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if held := heldIDs(t, s); len(held) == total && caughtUp(t, s, nodes) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("USA holds %d of %d objects after GBR came back", len(heldIDs(t, s)), total)
		}
	}
	held := heldIDs(t, s)
	for i := 1; i <= total; i++ {
		if held[fedID(i)] != 1 {
			t.Fatalf("USA holds %d versions of %s; want 1", held[fedID(i)], fedID(i))
		}
	}
	proc.Process.Signal(os.Interrupt)
	proc.Wait()
	for _, f := range []*fedNode{gbr, usa} {
		if out, errs, c := run(t, "", "audit", "verify", "--dir", f.dir); c != 0 {
			t.Errorf("audit verify on %s: exit %d %s %s", f.code, c, out, errs)
		}
	}
	if ids := slices.Sorted(maps.Keys(held)); len(ids) != total {
		t.Errorf("USA holds %d distinct objects; want %d", len(ids), total)
	}
}

// TestFederationBench runs 'tearline bench federation' small: it reports
// a link rate and latencies (the figures themselves are not judged here).
func TestFederationBench(t *testing.T) {
	out, errs, c := run(t, "", "bench", "federation", "--objects", "300", "--samples", "5", "--json")
	if c != 0 {
		t.Fatalf("bench federation: exit %d %s", c, errs)
	}
	var res benchFederationResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("bench federation --json = %q: %v", out, err)
	}
	if res.Objects != 300 || res.Samples != 5 || res.ObjectsPerSec <= 0 || res.P50Millis <= 0 || res.P99Millis < res.P50Millis {
		t.Errorf("bench federation = %+v; want 300 objects at a positive rate and 5 latency samples", res)
	}
}
