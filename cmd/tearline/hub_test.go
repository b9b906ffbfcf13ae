package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/postgres"
	"github.com/tearline/tearline/sqlite"
)

// TestServeThroughHub: GBR and USA know each other's keys but have no
// address for each other; both reach each other through CTHUB, a node
// configured as a community hub, whose card names its address (and the
// members' cards, at the hub, none: members poll the hub). What GBR
// releases to USA arrives through the hub, and the hub's database holds
// none of it in the clear.
func TestServeThroughHub(t *testing.T) {
	serveThroughHub(t, nil, "")
}

// TestServeThroughPostgresHub: the same with the hub's store in
// PostgreSQL, and the members' cards at the hub naming their addresses, so
// that the hub notifies them; both sides of the batch relayed end with a
// verified receipt, asked for and answered through the hub; GBR then
// recalls the object, the notice
// reaches USA through the hub, USA purges it and its acknowledgement comes
// back through the hub; and the hub's database files, read once the
// server is stopped, hold none of it in the clear. Without PostgreSQL
// binaries it skips, unless TEARLINE_REQUIRE_POSTGRES=1.
func TestServeThroughPostgresHub(t *testing.T) {
	dir, err := os.MkdirTemp("", "tearline-hub-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := postgres.StartCluster(ctx, dir)
	if errors.Is(err, postgres.ErrNoBinaries) && os.Getenv("TEARLINE_REQUIRE_POSTGRES") != "1" {
		t.Skipf("no PostgreSQL: %v (TEARLINE_REQUIRE_POSTGRES=1 fails instead)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Runs once the nodes have stopped (cleanups run last registered
	// first): the server stops, and its files are read.
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Error(err)
		}
	})
	serveThroughHub(t, cluster, dir)
}

// serveThroughHub plays TestServeThroughHub, with the hub's store in
// cluster's database, whose files are under clusterDir, when cluster is not
// nil.
func serveThroughHub(t *testing.T, cluster *postgres.Cluster, clusterDir string) {
	defer func(d, w time.Duration) { checkpointInterval, witnessInterval = d, w }(checkpointInterval, witnessInterval)
	checkpointInterval = 50 * time.Millisecond // receipts collected promptly
	witnessInterval = 50 * time.Millisecond
	nodes := map[string]*fedNode{}
	for _, code := range []string{"GBR", "USA", "CTHUB"} {
		dir := filepath.Join(t.TempDir(), strings.ToLower(code))
		if _, errs, c := run(t, "", "init", "--partner", code, "--name", code+" node", "--dir", dir); c != 0 {
			t.Fatalf("init %s: %s", code, errs)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		nodes[code] = &fedNode{code: code, dir: dir, ln: ln, addr: ln.Addr().String()}
	}
	// The hub's card names its address; the members' cards name none.
	pin := func(from, to string, endpoint bool) {
		t.Helper()
		args := []string{"partner", "card", "--dir", nodes[from].dir}
		if endpoint {
			args = append(args, "--endpoint", "https://"+nodes[from].addr)
		}
		card, errs, c := run(t, "", args...)
		if c != 0 {
			t.Fatal(errs)
		}
		fp := strings.TrimSpace(errs[strings.Index(errs, "SHA256:"):])
		fp = fp[:strings.IndexAny(fp, " \n")]
		file := filepath.Join(t.TempDir(), from+".card")
		writeFile(t, file, card)
		if _, errs, c := run(t, "", "partner", "add", "--dir", nodes[to].dir, file, "--fingerprint", fp); c != 0 {
			t.Fatalf("%s pins %s: %s", to, from, errs)
		}
	}
	pin("CTHUB", "GBR", true)
	pin("CTHUB", "USA", true)
	pin("GBR", "USA", false)
	pin("USA", "GBR", false)
	pin("GBR", "CTHUB", cluster != nil)
	pin("USA", "CTHUB", cluster != nil)
	appendConfig := func(code, text string) {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(nodes[code].dir, "tearline.yaml"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteString(text)
		f.Close()
	}
	appendConfig("CTHUB", "federation:\n  hub: true\n")
	if cluster != nil {
		file := filepath.Join(nodes["CTHUB"].dir, "tearline.yaml")
		cfg, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		before := string(cfg)
		after := strings.Replace(strings.Replace(before, `driver: "sqlite"`, `driver: "postgres"`, 1),
			`path: "tearline.db"`, fmt.Sprintf("url: %q", cluster.URL()), 1)
		if strings.Count(after, "postgres\"") == 0 || strings.Contains(after, `path: "tearline.db"`) {
			t.Fatalf("CTHUB's config has no database section to change:\n%s", before)
		}
		writeFile(t, file, after)
		// Inspected once the hub's server has stopped: no file of the
		// hub's database holds the object in the clear.
		t.Cleanup(func() { noPlaintext(t, clusterDir, secrets) })
	}
	appendConfig("GBR", "federation:\n  hubs: [CTHUB]\n  via: {USA: CTHUB}\n")
	appendConfig("USA", "federation:\n  hubs: [CTHUB]\n  via: {GBR: CTHUB}\n")
	if _, errs, c := run(t, "", "audit", "witness", "USA", "--dir", nodes["GBR"].dir); c == 0 || !strings.Contains(errs, "reached through hub CTHUB") {
		t.Errorf("audit witness of a partner reached through a hub: exit %d %q; want it to say serve witnesses it through the hub", c, errs)
	}
	for _, code := range []string{"GBR", "USA"} {
		if _, errs, c := run(t, "", "agreement", "add", "--dir", nodes[code].dir, "../../policy/examples/fvey.yaml"); c != 0 {
			t.Fatalf("%s: %s", code, errs)
		}
	}
	const id = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
	if _, errs, c := run(t, labelledIndicator(t, id, "GBR SECRET//REL TO USA, GBR, FVEY"), "import", "--dir", nodes["GBR"].dir, "-"); c != 0 {
		t.Fatal(errs)
	}
	serveFed(t, nodes["CTHUB"])
	gbr := serveFed(t, nodes["GBR"])
	usa := serveFed(t, nodes["USA"])
	for deadline := time.Now().Add(100 * time.Second); heldIDs(t, usa)[id] == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the indicator never reached USA through the hub")
		}
	}
	// The hub relayed it: GBR's stream to USA is acknowledged there. The
	// hub records the acknowledgement once USA has answered, a moment
	// after USA holds the object.
	var hub interface {
		mailbox.HubStore
		Close() error
	}
	var err error
	if cluster != nil {
		hub, err = postgres.Open(context.Background(), cluster.URL())
	} else {
		hub, err = sqlite.OpenReadOnly(context.Background(), filepath.Join(nodes["CTHUB"].dir, "tearline.db"))
	}
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		pos, err := hub.HubPosition(context.Background(), "GBR", "USA")
		if err == nil && pos.Acked > 0 {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Errorf("the hub's stream GBR to USA: %+v, %v; want the relayed batch acknowledged", pos, err)
			break
		}
	}
	if cluster != nil {
		// The members' cards at the hub name their endpoints: the hub
		// notifies them, and a question and its answer cross it at once.
		receiptsThroughHub(t, nodes["GBR"], nodes["USA"])
		stores := map[string]store{"GBR": gbr, "USA": usa}
		first := map[string]uint64{}
		for _, p := range [][2]string{{"GBR", "USA"}, {"USA", "GBR"}} {
			first[p[0]] = witnessedThroughHub(t, nodes[p[0]], nodes[p[1]], stores[p[1]], 0)
		}
		recallThroughHub(t, nodes["GBR"], gbr, usa, id)
		// The recall grew both logs: each witness sees the other's grow,
		// with the consistency proof that came through the hub.
		for _, p := range [][2]string{{"GBR", "USA"}, {"USA", "GBR"}} {
			witnessedThroughHub(t, nodes[p[0]], nodes[p[1]], stores[p[1]], first[p[0]])
		}
		splitViewThroughHub(t, nodes["GBR"], gbr, nodes["USA"])
	}
	hub.Close()
	if cluster == nil {
		noPlaintext(t, nodes["CTHUB"].dir, secrets)
	}
}

// receiptsThroughHub: both sides of the batches relayed between the
// members keep a verified receipt, each question for the partner's entry
// and its answer having gone through the hub, as tearline audit receipts
// shows.
func receiptsThroughHub(t *testing.T, members ...*fedNode) {
	for _, f := range members {
		var out, errs string
		var c int
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if out, errs, c = run(t, "", "audit", "receipts", "--dir", f.dir); c != 0 {
				t.Fatalf("audit receipts on %s: exit %d %s", f.code, c, errs)
			}
			if strings.Contains(out, " 0 pending, 0 refused") || time.Now().After(deadline) {
				break
			}
		}
		if !strings.Contains(out, " 0 pending, 0 refused") || !strings.Contains(out, "verified 20") {
			t.Errorf("audit receipts on %s: want every receipt of the batches relayed verified\n%s", f.code, out)
		}
	}
}

// witnessedThroughHub waits until witness has witnessed partner's log,
// reached through the hub only, at a size past after, and partner keeps
// witness's cosignature of that checkpoint; it returns the size.
func witnessedThroughHub(t *testing.T, witness, partnerNode *fedNode, partnerStore store, after uint64) uint64 {
	t.Helper()
	wn, err := node.Load(witness.dir)
	if err != nil {
		t.Fatal(err)
	}
	pn, err := node.Load(partnerNode.dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := nodeLedger(partnerStore)
	if err != nil {
		t.Fatal(err)
	}
	logKey := ledger.NewVerifier(logOrigin(pn), pn.SigningPublicKey)
	cosigner := ledger.NewCosignatureVerifier("tearline/"+witness.code, wn.SigningPublicKey)
	state := ""
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		seen, err := os.ReadFile(filepath.Join(witness.dir, "witnessed", partnerNode.code+".checkpoint"))
		if err != nil {
			state = err.Error()
			continue
		}
		cp, names, err := ledger.OpenCosigned(seen, logKey, cosigner)
		if err != nil || !slices.Contains(names, "tearline/"+witness.code) || cp.Size <= after {
			state = fmt.Sprintf("%s's last witnessed checkpoint of %s: size %d, cosigned by %v, %v", witness.code, partnerNode.code, cp.Size, names, err)
			continue
		}
		cps, err := st.Checkpoints(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cps {
			got, names, err := ledger.OpenCosigned(c, logKey, cosigner)
			if err == nil && got == cp && slices.Contains(names, "tearline/"+witness.code) {
				return cp.Size
			}
		}
		state = fmt.Sprintf("%s keeps no cosignature by %s of its checkpoint of size %d", partnerNode.code, witness.code, cp.Size)
	}
	t.Fatalf("%s never witnessed %s's log through the hub past size %d: %s", witness.code, partnerNode.code, after, state)
	return 0
}

// splitViewThroughHub: partner, reached through the hub only, shows
// witness a checkpoint that cannot extend the one it showed before (the
// last witnessed is replaced here by one of the same size and another
// root, signed with partner's key, as a lying node would show one of its
// partners): witness's next round through the hub is a split view, with
// its evidence kept and an alert in witness's audit log.
func splitViewThroughHub(t *testing.T, witness *fedNode, witnessStore store, partnerNode *fedNode) {
	t.Helper()
	pn, err := node.Load(partnerNode.dir)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(witness.dir, "witnessed", partnerNode.code+".checkpoint")
	logKey := ledger.NewVerifier(logOrigin(pn), pn.SigningPublicKey)
	// The witness rewrites the file after each round: a round under way
	// as it is forged may put back the true checkpoint, and then it is
	// forged again.
	var forged []byte
	forge := func() {
		seen, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(seen, forged) {
			return
		}
		seenCP, _, err := ledger.OpenCheckpoint(seen, logKey)
		if err != nil {
			t.Fatal(err)
		}
		forged, err = ledger.SignCheckpoint(ledger.Checkpoint{Origin: logOrigin(pn), Size: seenCP.Size, Root: [32]byte{0xde, 0xad}}, ledger.NewSigner(logOrigin(pn), pn.SigningKey))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, file, string(forged))
	}
	st, err := nodeLedger(witnessStore)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		evidence, _ := filepath.Glob(filepath.Join(witness.dir, "witnessed", partnerNode.code+".splitview-*"))
		if len(evidence) == 0 {
			forge()
		}
		alerted := false
		size, err := st.Size(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for i := range size {
			b, err := st.Entry(context.Background(), i)
			if err != nil {
				t.Fatal(err)
			}
			if ev, err := ledger.DecodeEvent(b); err == nil && ev.Kind == ledger.KindAlertRaised && ev.Details["alert"] == "split-view" &&
				slices.Equal(ev.Subjects, []string{partnerNode.code}) {
				alerted = true
			}
		}
		if len(evidence) > 0 && alerted {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's split view, shown through the hub: evidence %v, alert in %s's audit log %v; want both", partnerNode.code, evidence, witness.code, alerted)
		}
	}
}

// recallThroughHub: GBR recalls id, which USA has through the hub; USA
// purges it, and GBR's recall status shows USA's acknowledgement.
func recallThroughHub(t *testing.T, gbrNode *fedNode, gbr, usa store, id string) {
	t.Helper()
	out, errs, c := run(t, "", "recall", id, "--reason", "source compromised", "--dir", gbrNode.dir)
	if c != 0 || !strings.Contains(out, "queued for [USA]") {
		t.Fatalf("recall: %s%s", out, errs)
	}
	rs, err := recallStoreOf(gbr)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		recalls, err := rs.Recalls(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(recalls) == 1 && len(recalls[0].Targets) == 1 && recalls[0].Targets[0].Partner == "USA" && !recalls[0].Targets[0].Acknowledged.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GBR's recall of %s through the hub: %+v; want USA's acknowledgement", id, recalls)
		}
	}
	if heldIDs(t, usa)[id] != 0 {
		t.Error("USA acknowledged the recall but still holds the object")
	}
	out, errs, c = run(t, "", "recall", "status", id, "--dir", gbrNode.dir)
	if c != 0 || !strings.Contains(out, "USA") {
		t.Errorf("recall status: %s%s", out, errs)
	}
}

// secrets are what the hub must not hold in the clear of the indicator
// TestServeThroughHub sends.
var secrets = []string{"6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b", "Courier network relay", "203.0.113.9", "source compromised"}

// noPlaintext fails the test if a file under dir (a hub's database files)
// holds one of secrets, or if there is no file to read.
func noPlaintext(t *testing.T, dir string, secrets []string) {
	t.Helper()
	read := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		read++
		for _, s := range secrets {
			if bytes.Contains(data, []byte(s)) {
				t.Errorf("the hub's file %s holds %q in the clear", path, s)
			}
		}
		return nil
	})
	if err != nil || read == 0 {
		t.Fatalf("the hub's files under %s: %d read, %v", dir, read, err)
	}
}
