package partner

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tearline/tearline/node"
)

func TestAddNewPartner(t *testing.T) {
	gbr := newNode(t, "GBR", 1)
	fra := newNode(t, "FRA", 2)
	fc, fdata := card(t, fra, time.Hour)
	_, own := card(t, gbr, time.Hour)
	now := testTime.Add(2 * time.Hour)

	tampered := append([]byte{}, fdata...)
	copy(tampered[bytesIndex(t, tampered, "Test node FRA"):], "Test node FRX")
	wrong := fingerprint(t, fc)
	wrong = wrong[:len(wrong)-1] + map[bool]string{true: "0", false: "1"}[wrong[len(wrong)-1] != '0']

	tests := []struct {
		name        string
		data        []byte
		fingerprint string
		want        error
	}{
		{"wrong fingerprint", fdata, wrong, ErrFingerprintMismatch},
		{"no fingerprint", fdata, "", ErrFingerprintRequired},
		{"tampered card", tampered, fingerprint(t, fc), ErrBadSignature},
		{"own card", own, "", ErrOwnCard},
	}
	s := NewStore(gbr.Dir, "GBR")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Add(tt.data, AddOptions{Fingerprint: tt.fingerprint, Now: now})
			if !errors.Is(err, tt.want) {
				t.Errorf("Add(%s) = %v; want %v", tt.name, err, tt.want)
			}
			if _, err := os.Stat(filepath.Join(gbr.Dir, Dir, "FRA.json")); err == nil {
				t.Errorf("Add(%s) pinned FRA", tt.name)
			}
		})
	}

	res, err := s.Add(fdata, AddOptions{Fingerprint: fingerprint(t, fc), Now: now})
	if err != nil || res.Previous != nil || res.Card.Partner != "FRA" {
		t.Fatalf("Add(FRA card, right fingerprint) = %+v, %v; want FRA pinned", res, err)
	}
	fi, err := os.Stat(filepath.Join(gbr.Dir, Dir, "FRA.json"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("pinned file: %v, %v; want mode 0644", fi, err)
	}
	res, err = s.Add(fdata, AddOptions{Now: now})
	if err != nil || !res.Unchanged {
		t.Errorf("Add(same card again) = %+v, %v; want unchanged", res, err)
	}
	list, err := s.List()
	if err != nil || len(list) != 1 || list[0].Card.Partner != "FRA" || list[0].Fingerprint.String() != fingerprint(t, fc) {
		t.Errorf("List() = %v, %v; want FRA with fingerprint %s", list, err, fingerprint(t, fc))
	}
	// An expired card is refused, whatever its fingerprint.
	_, err = NewStore(t.TempDir(), "GBR").Add(fdata, AddOptions{Fingerprint: fingerprint(t, fc), Now: testTime.Add(3 * 365 * 24 * time.Hour)})
	if !errors.Is(err, ErrCardNotValid) {
		t.Errorf("Add(card with expired key) = %v; want %v", err, ErrCardNotValid)
	}
}

func bytesIndex(t *testing.T, b []byte, s string) int {
	t.Helper()
	for i := 0; i+len(s) <= len(b); i++ {
		if string(b[i:i+len(s)]) == s {
			return i
		}
	}
	t.Fatalf("%q not found", s)
	return -1
}

func TestAddRotation(t *testing.T) {
	gbr := newNode(t, "GBR", 1)
	fra := newNode(t, "FRA", 2)
	s := NewStore(gbr.Dir, "GBR")
	fc, fdata := card(t, fra, time.Hour)
	if _, err := s.Add(fdata, AddOptions{Fingerprint: fingerprint(t, fc), Now: testTime.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	oldID := fra.SigningKeyID

	// A stranger claiming to be FRA, with keys of its own, is refused.
	impostor := newNode(t, "FRA", 3)
	ic, idata := card(t, impostor, 2*time.Hour)
	if _, err := s.Add(idata, AddOptions{Now: testTime.Add(3 * time.Hour)}); !errors.Is(err, ErrNotSignedByPinnedKey) {
		t.Errorf("Add(card signed by an unknown key) = %v; want %v", err, ErrNotSignedByPinnedKey)
	}
	// Even with its fingerprint, unless the operator says --replace.
	if _, err := s.Add(idata, AddOptions{Fingerprint: fingerprint(t, ic), Now: testTime.Add(3 * time.Hour)}); !errors.Is(err, ErrNotSignedByPinnedKey) {
		t.Errorf("Add(unknown key, fingerprint, no replace) = %v; want %v", err, ErrNotSignedByPinnedKey)
	}

	// FRA rotates its signing key: its next card is signed by the new key
	// and by the previous one, and is accepted without a fingerprint.
	if _, err := fra.RotateKey(node.KindSigning, node.RotateOptions{Rand: rand.NewChaCha8([32]byte{9}), Now: func() time.Time { return testTime.Add(90 * time.Minute) }}); err != nil {
		t.Fatal(err)
	}
	rc, rdata := card(t, fra, 2*time.Hour)
	if rc.SigningKey.ID == oldID || !rc.SignedBy(oldID, fc.SigningKey.Public) {
		t.Fatalf("rotation card: signing key %s, signed by the old key %s: %v", rc.SigningKey.ID, oldID, rc.SignedBy(oldID, fc.SigningKey.Public))
	}
	if len(rc.RetiredSigningKeys) != 1 || rc.RetiredSigningKeys[0].ID != oldID {
		t.Errorf("rotation card retired keys = %+v; want %s", rc.RetiredSigningKeys, oldID)
	}
	res, err := s.Add(rdata, AddOptions{Now: testTime.Add(3 * time.Hour)})
	if err != nil || !res.Rotation || res.Previous == nil {
		t.Fatalf("Add(rotation card signed by the pinned key) = %+v, %v; want a rotation", res, err)
	}
	p, err := s.Get("FRA")
	if err != nil || p.Card.SigningKey.ID != rc.SigningKey.ID {
		t.Errorf("Get(FRA) after rotation = %v, %v; want key %s", p, err, rc.SigningKey.ID)
	}
	archived, _ := filepath.Glob(filepath.Join(gbr.Dir, Dir, "archive", "FRA-*.json"))
	if len(archived) != 1 {
		t.Errorf("archive holds %v; want the replaced FRA card", archived)
	}
	// The old card cannot come back.
	if _, err := s.Add(fdata, AddOptions{Fingerprint: fingerprint(t, fc), Now: testTime.Add(3 * time.Hour)}); !errors.Is(err, ErrStaleCard) {
		t.Errorf("Add(older card) = %v; want %v", err, ErrStaleCard)
	}

	// Explicit re-pin of a new identity: fingerprint and --replace.
	ic2, idata2 := card(t, impostor, 4*time.Hour)
	if _, err := s.Add(idata2, AddOptions{Fingerprint: fingerprint(t, ic2), Replace: true, Now: testTime.Add(5 * time.Hour)}); err != nil {
		t.Errorf("Add(new identity, fingerprint, replace) = %v; want it pinned", err)
	}
}
