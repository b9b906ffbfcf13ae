package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestAuditLog records operator actions, signs a checkpoint, verifies the
// log, and names the entry that was changed behind the node's back.
func TestAuditLog(t *testing.T) {
	dir := initNode(t)
	if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/gbr-fra.yaml"); code != 0 {
		t.Fatal(errs)
	}
	if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/fvey.yaml"); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code := run(t, "", "audit", "log", "--dir", dir)
	if code != 0 || !strings.Contains(out, "agreement-changed") || !strings.Contains(out, "gbr-fra-security@v1") || !strings.Contains(out, "fvey-intel@v3") {
		t.Fatalf("audit log: exit %d %q %q; want both agreements recorded", code, out, errs)
	}
	out, _, code = run(t, "", "audit", "checkpoint", "--dir", dir)
	if code != 0 || !strings.HasPrefix(out, "tearline/GBR\n2\n") || !strings.Contains(out, "— tearline/GBR ") {
		t.Fatalf("audit checkpoint = %q, exit %d; want a signed note of size 2", out, code)
	}
	if out, errs, code := run(t, "", "audit", "verify", "--dir", dir); code != 0 || !strings.Contains(out, "2 entries, 1 checkpoints") {
		t.Fatalf("audit verify: exit %d %q %q", code, out, errs)
	}
	if out, errs, code := run(t, "", "audit", "proof", "--dir", dir, "1"); code != 0 || !strings.Contains(out, "entry 1 of 2") || !strings.Contains(out, "path ") {
		t.Errorf("audit proof 1: exit %d %q %q", code, out, errs)
	}
	if out, errs, code := run(t, "", "audit", "proof", "--dir", dir, "--from", "1", "--to", "2"); code != 0 || !strings.Contains(out, "size 1 root") {
		t.Errorf("audit proof --from 1 --to 2: exit %d %q %q", code, out, errs)
	}
	if _, _, code := run(t, "", "audit", "proof", "--dir", dir, "7"); code == 0 {
		t.Error("audit proof of an entry past the end succeeded")
	}
	out, _, _ = run(t, "", "audit", "log", "--dir", dir, "--object", "fvey-intel@v3")
	if strings.Contains(out, "gbr-fra-security") || !strings.Contains(out, "fvey-intel@v3") {
		t.Errorf("audit log --object fvey-intel@v3 = %q; want only that agreement's entry", out)
	}
	if out, _, _ = run(t, "", "audit", "log", "--dir", dir, "--kind", "envelope-sent"); !strings.Contains(out, "no entry of the 2") {
		t.Errorf("audit log --kind envelope-sent = %q; want no match", out)
	}
	if out, _, _ = run(t, "", "audit", "log", "--dir", dir, "--since", "2999-01-01T00:00:00Z"); !strings.Contains(out, "no entry") {
		t.Errorf("audit log --since the future = %q; want no match", out)
	}
	if _, errs, code := run(t, "", "keys", "rotate", "signing", "--dir", dir); code != 0 {
		t.Fatalf("keys rotate: %s", errs)
	}
	if out, _, _ := run(t, "", "audit", "log", "--dir", dir); !strings.Contains(out, "key-rotated") || !strings.Contains(out, "action=rotated") {
		t.Errorf("audit log after a key rotation = %q; want a key-rotated entry", out)
	}
	// Rewrite the first entry in the database: verify must name it. (The
	// driver is the one package sqlite registers.)
	db, err := sql.Open("tearline-sqlite3", "file:"+filepath.Join(dir, "tearline.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(context.Background(), `UPDATE ledger_entries SET entry = replace(entry, 'gbr-fra-security', 'gbr-fra-securitx') WHERE idx = 0`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, errs, code = run(t, "", "audit", "verify", "--dir", dir)
	if code == 0 || !strings.Contains(errs, "does NOT verify") || !strings.Contains(errs, "entry 0") {
		t.Errorf("audit verify after tampering: exit %d %q; want a failure naming entry 0", code, errs)
	}
}

// TestAuditVerifyNamesEntry deletes or reorders stored entries behind the
// node's back: verify fails and names the entry.
func TestAuditVerifyNamesEntry(t *testing.T) {
	for _, c := range []struct {
		name, sql, want string
	}{
		{"deleted", `DELETE FROM ledger_entries WHERE idx = 0`, "entry 0"},
		{"reordered", `UPDATE ledger_entries SET idx = -1 WHERE idx = 0; UPDATE ledger_entries SET idx = 0 WHERE idx = 1; UPDATE ledger_entries SET idx = 1 WHERE idx = -1`, "entry 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := initNode(t)
			run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/gbr-fra.yaml")
			run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/fvey.yaml")
			if _, errs, code := run(t, "", "audit", "verify", "--dir", dir); code != 0 {
				t.Fatalf("audit verify before tampering: %s", errs)
			}
			db, err := sql.Open("tearline-sqlite3", "file:"+filepath.Join(dir, "tearline.db"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(context.Background(), c.sql); err != nil {
				t.Fatal(err)
			}
			db.Close()
			_, errs, code := run(t, "", "audit", "verify", "--dir", dir)
			if code == 0 || !strings.Contains(errs, c.want) {
				t.Errorf("audit verify after the entries were %s: exit %d %q; want a failure naming %s", c.name, code, errs, c.want)
			}
		})
	}
}

func TestBenchLedger(t *testing.T) {
	out, errs, code := run(t, "", "bench", "ledger", "--entries", "3000", "--batch", "500", "--json")
	if code != 0 || !strings.Contains(out, `"entries":3000`) {
		t.Errorf("bench ledger: exit %d %q %q", code, out, errs)
	}
}
