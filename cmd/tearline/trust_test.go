package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runTrust is run with the keys and partner commands registered, whether or
// not main.go registers them yet.
func runTrust(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return run(t, "", args...)
}

func mustRun(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, errs, code := runTrust(t, args...)
	if code != 0 {
		t.Fatalf("tearline %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out, errs
}

func initPartner(t *testing.T, code string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), code)
	mustRun(t, "init", "--partner", code, "--name", "Node "+code, "--dir", dir)
	return dir
}

var fingerprintRE = regexp.MustCompile(`SHA256:[0-9a-f:]{79}`)

// writeCard runs partner card for dir and returns the card file and its
// fingerprint.
func writeCard(t *testing.T, dir string) (string, string) {
	t.Helper()
	out, errs := mustRun(t, "partner", "card", "--endpoint", "https://node.example:8443", "--dir", dir)
	fp := fingerprintRE.FindString(errs)
	if fp == "" {
		t.Fatalf("partner card printed no fingerprint: %q", errs)
	}
	f, err := os.CreateTemp(t.TempDir(), "*.card")
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(out)
	f.Close()
	return f.Name(), fp
}

func TestPartnerCommands(t *testing.T) {
	t.Setenv("TEARLINE_KEY_PASSPHRASE", "")
	gbr := initPartner(t, "GBR")
	fra := initPartner(t, "FRA")
	card, fp := writeCard(t, fra)
	own, ownFP := writeCard(t, gbr)

	wrong := fp[:len(fp)-1] + map[bool]string{true: "0", false: "1"}[fp[len(fp)-1] != '0']
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"wrong fingerprint", []string{"partner", "add", card, "--fingerprint", wrong, "--dir", gbr}, 1, "does not match"},
		{"no fingerprint", []string{"partner", "add", card, "--dir", gbr}, 1, "fingerprint required"},
		{"own card", []string{"partner", "add", own, "--fingerprint", ownFP, "--dir", gbr}, 1, "this node"},
		{"replace without fingerprint", []string{"partner", "add", card, "--replace", "--dir", gbr}, 2, "--fingerprint"},
		{"http endpoint", []string{"partner", "card", "--endpoint", "http://node.example", "--dir", gbr}, 2, "never plain HTTP"},
		{"right fingerprint", []string{"partner", "add", card, "--fingerprint", fp, "--dir", gbr}, 0, "Pinned FRA"},
		{"again", []string{"partner", "add", card, "--dir", gbr}, 0, "already pinned"},
		{"list", []string{"partner", "list", "--dir", gbr}, 0, fp},
		{"rotate nothing", []string{"keys", "rotate", "--dir", fra}, 2, "signing or hpke"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errs, code := runTrust(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errs, tt.want) {
				t.Errorf("tearline %s: exit %d\n%s%s\nwant exit %d and %q", strings.Join(tt.args, " "), code, out, errs, tt.code, tt.want)
			}
		})
	}

	// FRA rotates its signing key: GBR accepts the new card without a
	// fingerprint, because the pinned key signed it.
	show, _ := mustRun(t, "keys", "show", "--dir", fra)
	oldID := regexp.MustCompile(`signing\s+([0-9a-f]{16})\s+ed25519\s+current`).FindStringSubmatch(show)
	if oldID == nil {
		t.Fatalf("keys show lists no current signing key:\n%s", show)
	}
	mustRun(t, "keys", "rotate", "signing", "--dir", fra)
	rotated, _ := writeCard(t, fra)
	out, _ := mustRun(t, "partner", "add", rotated, "--dir", gbr)
	if !strings.Contains(out, "signed by the pinned key "+oldID[1]) {
		t.Errorf("partner add of the rotation card: %q; want it accepted on the pinned key %s", out, oldID[1])
	}

	// Revoking the current key is refused; the retired one is revoked and
	// shown so.
	if _, errs, code := runTrust(t, "keys", "revoke", regexp.MustCompile(`signing\s+([0-9a-f]{16})\s+ed25519\s+current`).FindStringSubmatch(mustShow(t, fra))[1], "--dir", fra); code == 0 || !strings.Contains(errs, "rotate") {
		t.Errorf("keys revoke of the current key: exit %d, %q; want a refusal", code, errs)
	}
	mustRun(t, "keys", "revoke", oldID[1], "--reason", "compromised", "--dir", fra)
	if show := mustShow(t, fra); !regexp.MustCompile(oldID[1] + `.*revoked.*compromised`).MatchString(show) {
		t.Errorf("keys show after revoke:\n%s\nwant %s revoked", show, oldID[1])
	}
	// FRA rotates again and revokes the key GBR pinned: its next card is
	// not signed by the pinned key, so GBR must pin it by fingerprint.
	pinned := regexp.MustCompile(`signing\s+([0-9a-f]{16})\s+ed25519\s+current`).FindStringSubmatch(mustShow(t, fra))[1]
	mustRun(t, "keys", "rotate", "signing", "--dir", fra)
	mustRun(t, "keys", "revoke", pinned, "--dir", fra)
	again, againFP := writeCard(t, fra)
	if _, errs, code := runTrust(t, "partner", "add", again, "--dir", gbr); code == 0 {
		t.Errorf("partner add of a card not signed by the pinned key: exit 0; want a refusal\n%s", errs)
	}
	mustRun(t, "partner", "add", again, "--fingerprint", againFP, "--replace", "--dir", gbr)
}

func mustShow(t *testing.T, dir string) string {
	t.Helper()
	out, _ := mustRun(t, "keys", "show", "--dir", dir)
	return out
}

func TestKeysEncrypt(t *testing.T) {
	t.Setenv("TEARLINE_KEY_PASSPHRASE", "")
	dir := initPartner(t, "GBR")
	if _, errs, code := runTrust(t, "keys", "encrypt", "--dir", dir); code != 2 {
		t.Errorf("keys encrypt without passphrase: exit %d, %q; want 2", code, errs)
	}
	t.Setenv("TEARLINE_KEY_PASSPHRASE", "s3cret passphrase")
	out, _ := mustRun(t, "keys", "encrypt", "--dir", dir)
	if strings.Count(out, "encrypted ") != 3 {
		t.Errorf("keys encrypt: %q; want 3 files encrypted", out)
	}
	if strings.Contains(out, "s3cret") {
		t.Error("keys encrypt printed the passphrase")
	}
	mustRun(t, "keys", "show", "--dir", dir)

	t.Setenv("TEARLINE_KEY_PASSPHRASE", "wrong")
	if _, errs, code := runTrust(t, "keys", "show", "--dir", dir); code == 0 || !strings.Contains(errs, "wrong key passphrase") {
		t.Errorf("keys show with a wrong passphrase: exit %d, %q; want a refusal", code, errs)
	}
	t.Setenv("TEARLINE_KEY_PASSPHRASE", "")
	// The existing commands refuse to start too.
	if _, errs, code := run(t, "", "import", "--dir", dir, "-"); code == 0 || !strings.Contains(errs, "TEARLINE_KEY_PASSPHRASE") {
		t.Errorf("import with encrypted keys and no passphrase: exit %d, %q; want a refusal naming the variable", code, errs)
	}
}
