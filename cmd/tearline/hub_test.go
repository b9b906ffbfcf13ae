package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/sqlite"
)

// TestServeThroughHub: GBR and USA know each other's keys but have no
// address for each other; both reach each other through CTHUB, a node
// configured as a community hub. What GBR releases to USA arrives through
// the hub, and the hub's database holds none of it in the clear.
func TestServeThroughHub(t *testing.T) {
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
	pin("GBR", "CTHUB", false)
	pin("USA", "CTHUB", false)
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
	appendConfig("GBR", "federation:\n  hubs: [CTHUB]\n  via: {USA: CTHUB}\n")
	appendConfig("USA", "federation:\n  hubs: [CTHUB]\n  via: {GBR: CTHUB}\n")
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
	serveFed(t, nodes["GBR"])
	usa := serveFed(t, nodes["USA"])
	for deadline := time.Now().Add(100 * time.Second); heldIDs(t, usa)[id] == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the indicator never reached USA through the hub")
		}
	}
	// The hub relayed it: GBR's stream to USA is acknowledged there. The
	// hub records the acknowledgement once USA has answered, a moment
	// after USA holds the object.
	hub, err := sqlite.OpenReadOnly(context.Background(), filepath.Join(nodes["CTHUB"].dir, "tearline.db"))
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
	hub.Close()
	// Nothing of the object in the clear in the hub's files.
	files, err := filepath.Glob(filepath.Join(nodes["CTHUB"].dir, "tearline.db*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("the hub's database files: %v, %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{strings.TrimPrefix(id, "indicator--"), "Courier network relay", "203.0.113.9"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("the hub's file %s holds %q in the clear", filepath.Base(f), secret)
			}
		}
	}
}
