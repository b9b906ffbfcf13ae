package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pinEachOther exchanges partner cards between two nodes, as operators do
// after comparing fingerprints out of band.
func pinEachOther(t *testing.T, a, b string, extra ...string) {
	t.Helper()
	for _, pair := range [][2]string{{a, b}, {b, a}} {
		card, errs, code := run(t, "", "partner", "card", "--dir", pair[0])
		if code != 0 {
			t.Fatalf("partner card: %s", errs)
		}
		fp := strings.TrimSpace(errs[strings.Index(errs, "SHA256:"):])
		if i := strings.IndexAny(fp, " \n"); i > 0 {
			fp = fp[:i]
		}
		file := filepath.Join(t.TempDir(), "card.json")
		os.WriteFile(file, []byte(card), 0o644)
		if out, errs, code := run(t, "", append([]string{"partner", "add", "--dir", pair[1], file, "--fingerprint", fp}, extra...)...); code != 0 {
			t.Fatalf("partner add: exit %d %s %s", code, out, errs)
		}
	}
}

// TestOfflineTransfer seals what FRA may receive on GBR's node, carries the
// file over, and opens it on FRA's node; a second import is a replay, and a
// changed byte is refused.
func TestOfflineTransfer(t *testing.T) {
	gbr := initNode(t)
	fra := filepath.Join(t.TempDir(), "fra")
	if _, errs, code := run(t, "", "init", "--partner", "FRA", "--name", "DGSI Liaison Bureau", "--dir", fra); code != 0 {
		t.Fatal(errs)
	}
	pinEachOther(t, gbr, fra)
	for _, dir := range []string{gbr, fra} {
		if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/gbr-fra.yaml"); code != 0 {
			t.Fatal(errs)
		}
	}
	const (
		forFRA  = "indicator--8b3f4e5d-6c70-4b82-8c9d-1e2f3a4b5c6d"
		forFVEY = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
	)
	input := labelledIndicator(t, forFRA, "GBR SECRET//REL TO GBR, FRA") +
		labelledIndicator(t, forFVEY, "GBR SECRET//REL TO USA, GBR, FVEY")
	if _, errs, code := run(t, input, "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}
	file := filepath.Join(t.TempDir(), "fra.tlenv")
	out, errs, code := run(t, "", "export", "--dir", gbr, "--to", "FRA", "--envelope", file)
	if code != 0 || !strings.Contains(out, "withheld: 1 deny") {
		t.Fatalf("export --to FRA: exit %d %q %q", code, out, errs)
	}
	out, errs, code = run(t, "", "import", "--dir", fra, file)
	if code != 0 || !strings.Contains(out, "envelope from GBR") || !strings.Contains(out, "verified") {
		t.Fatalf("import of the envelope on FRA: exit %d %q %q", code, out, errs)
	}
	exported, _, _ := run(t, "", "export", "--dir", fra, "--format", "jsonl")
	if !strings.Contains(exported, forFRA) || strings.Contains(exported, forFVEY) {
		t.Errorf("FRA holds:\n%s\nwant %s and not %s", exported, forFRA, forFVEY)
	}
	// The same envelope again is a replay.
	if _, errs, code := run(t, "", "import", "--dir", fra, file); code == 0 || !strings.Contains(errs, "replay") {
		t.Errorf("second import of the envelope: exit %d %q; want a replay refusal", code, errs)
	}
	// Any changed byte is refused.
	data, _ := os.ReadFile(file)
	data[len(data)/2] ^= 0x01
	tampered := filepath.Join(t.TempDir(), "tampered.tlenv")
	os.WriteFile(tampered, data, 0o600)
	if _, errs, code := run(t, "", "import", "--dir", fra, tampered); code == 0 || !strings.Contains(errs, "envelope refused") {
		t.Errorf("import of a tampered envelope: exit %d %q; want a refusal", code, errs)
	}
	// Under the receiver's own agreements the sender must have been
	// entitled to send each object: without the GBR-FRA agreement, FRA's
	// node refuses what GBR sent.
	fra2 := filepath.Join(t.TempDir(), "fra2")
	run(t, "", "init", "--partner", "FRA", "--name", "DGSI (second node)", "--dir", fra2)
	// GBR re-pins FRA to the second node's card, as after a rebuild.
	pinEachOther(t, gbr, fra2, "--replace")
	file2 := filepath.Join(t.TempDir(), "fra2.tlenv")
	if _, errs, code := run(t, "", "export", "--dir", gbr, "--to", "FRA", "--envelope", file2); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code = run(t, "", "import", "--dir", fra2, file2)
	if code != 3 || !strings.Contains(errs, "was not entitled to send it") || !strings.Contains(out, "1 refused") {
		t.Errorf("import without a covering agreement: exit %d %q %q; want the object refused, exit 3", code, out, errs)
	}
	// A node that is not a recipient cannot open it.
	deu := filepath.Join(t.TempDir(), "deu")
	run(t, "", "init", "--partner", "DEU", "--name", "BfV", "--dir", deu)
	pinEachOther(t, gbr, deu)
	if _, errs, code := run(t, "", "import", "--dir", deu, file); code == 0 || !strings.Contains(errs, "envelope refused") {
		t.Errorf("import by a non-recipient: exit %d %q; want a refusal", code, errs)
	}
}

// TestImportBanner labels unmarked objects with the banner given, keeps
// the markings objects already carry, and refuses a conflicting banner.
func TestImportBanner(t *testing.T) {
	dir := initNode(t)
	unmarked := `{"type":"indicator","spec_version":"2.1","id":"indicator--9c4a5f6e-7d81-4c93-9dae-2f3a4b5c6d7e","created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.7']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z","labels":["counter-terrorism"]}` + "\n"
	if _, errs, code := run(t, unmarked, "import", "--dir", dir, "--banner", "gbr secret//rel to fra, gbr", "-"); code != 0 {
		t.Fatalf("import --banner: exit %d %s", code, errs)
	}
	run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/gbr-fra.yaml")
	out, _, _ := run(t, "", "explain", "--dir", dir, "indicator--9c4a5f6e-7d81-4c93-9dae-2f3a4b5c6d7e", "--to", "FRA", "--at", "2026-11-01T00:00:00Z")
	if !strings.Contains(out, "GBR SECRET//REL TO FRA, GBR") || !strings.Contains(out, ": ALLOW") {
		t.Errorf("explain after import --banner =\n%s\nwant the banner's label and an allow", out)
	}
	if _, errs, code := run(t, unmarked, "import", "--dir", dir, "--banner", "SECRET//REL TO USA//NOFORN", "-"); code != 2 || !strings.Contains(errs, "relto-with-noforn") {
		t.Errorf("import with a conflicting banner: exit %d %q; want a usage error naming the rule", code, errs)
	}
}
