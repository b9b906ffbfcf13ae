package node

import (
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func init() {
	// Keep the passphrase tests fast; the format is the same.
	scryptWorkFactor = 10
}

func rotateAt(t *testing.T, n *Node, kind KeyKind, seed byte, at time.Time) KeyInfo {
	t.Helper()
	k, err := n.RotateKey(kind, RotateOptions{Rand: rand.NewChaCha8([32]byte{seed}), Now: func() time.Time { return at }})
	if err != nil {
		t.Fatalf("RotateKey(%s) = %v", kind, err)
	}
	return k
}

func TestKeyLifecycle(t *testing.T) {
	dir, n := initNode(t, 1)
	msg := []byte("batch signed before the rotation")
	oldSigning := n.CurrentKey(KindSigning)
	oldHPKE := n.CurrentKey(KindHPKE)
	id, sig, err := n.Sign(msg, testTime.Add(time.Hour))
	if err != nil || id != oldSigning.ID {
		t.Fatalf("Sign = %s, %v; want key %s", id, err, oldSigning.ID)
	}

	// Two rotations of each kind: each new key becomes current, the old
	// ones stay for verifying and opening old material.
	s1 := rotateAt(t, n, KindSigning, 10, testTime.Add(24*time.Hour))
	h1 := rotateAt(t, n, KindHPKE, 11, testTime.Add(25*time.Hour))
	s2 := rotateAt(t, n, KindSigning, 12, testTime.Add(48*time.Hour))
	for _, k := range []KeyInfo{s1, h1, s2} {
		if k.Status != StatusCurrent || !k.NotAfter.Equal(k.Created.Add(DefaultKeyValidity)) {
			t.Errorf("rotated key %+v; want current, valid for DefaultKeyValidity", k)
		}
	}
	// Everything survives a fresh Load.
	n, err = Load(dir)
	if err != nil {
		t.Fatalf("Load after rotations = %v", err)
	}
	if n.SigningKeyID != s2.ID || n.HPKEKeyID != h1.ID {
		t.Errorf("current keys after Load = %s, %s; want %s, %s", n.SigningKeyID, n.HPKEKeyID, s2.ID, h1.ID)
	}
	if got := len(n.Keys()); got != 5 {
		t.Errorf("Keys() has %d keys; want 5", got)
	}
	old, err := n.PublicKey(KindSigning, oldSigning.ID)
	if err != nil || old.Status != StatusRetired || !ed25519.Verify(old.Signing, msg, sig) {
		t.Errorf("PublicKey(old signing) = %+v, %v; want a retired key that verifies the old signature", old, err)
	}
	if !old.ValidAt(testTime.Add(time.Hour)) || old.ValidAt(testTime.Add(30*time.Hour)) {
		t.Errorf("old key ValidAt: want valid before its retirement, not after")
	}
	if _, err := n.HPKEPrivateKey(oldHPKE.ID); err != nil {
		t.Errorf("HPKEPrivateKey(retired) = %v; want the archived key", err)
	}
	prev, info, err := n.PreviousSigningKey()
	if err != nil || info.ID != s1.ID || KeyID(prev.Public().(ed25519.PublicKey)) != s1.ID {
		t.Errorf("PreviousSigningKey = %s, %v; want %s", info.ID, err, s1.ID)
	}

	// Revocation: recorded, survives Load, and every lookup refuses it.
	if _, err := n.RevokeKey(n.SigningKeyID, "compromised", testTime); !errors.Is(err, ErrRevokeCurrent) {
		t.Errorf("RevokeKey(current) = %v; want %v", err, ErrRevokeCurrent)
	}
	if _, err := n.RevokeKey(oldHPKE.ID, "laptop lost", testTime.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := n.RevokeKey(s1.ID, "compromised", testTime.Add(72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	n, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	k, err := n.PublicKey(KindHPKE, oldHPKE.ID)
	if !errors.Is(err, ErrKeyRevoked) || k.Status != StatusRevoked || k.Reason != "laptop lost" {
		t.Errorf("PublicKey(revoked) = %+v, %v; want status revoked and %v", k, err, ErrKeyRevoked)
	}
	if _, err := n.HPKEPrivateKey(oldHPKE.ID); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("HPKEPrivateKey(revoked) = %v; want %v", err, ErrKeyRevoked)
	}
	if _, _, err := n.PreviousSigningKey(); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("PreviousSigningKey with the previous key revoked = %v; want %v", err, ErrKeyRevoked)
	}
	if _, err := n.RevokeKey(s1.ID, "again", testTime); !errors.Is(err, ErrKeyRevoked) {
		t.Errorf("RevokeKey(revoked) = %v; want %v", err, ErrKeyRevoked)
	}
	if _, err := n.PublicKey(KindSigning, "0123456789abcdef"); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("PublicKey(unknown) = %v; want %v", err, ErrUnknownKey)
	}
	// The oldest signing key was not revoked: it still verifies.
	if _, err := n.PublicKey(KindSigning, oldSigning.ID); err != nil {
		t.Errorf("PublicKey(retired, not revoked) = %v", err)
	}

	// An expired current key does not sign.
	if _, _, err := n.Sign(msg, s2.NotAfter); !errors.Is(err, ErrKeyExpired) {
		t.Errorf("Sign after NotAfter = %v; want %v", err, ErrKeyExpired)
	}

	// Private archived keys keep their permissions.
	fi, err := os.Stat(filepath.Join(dir, "keys", ArchiveDir, "signing-"+oldSigning.ID+".key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("archived private key: %v, %v; want mode 0600", fi, err)
	}
}

func TestKeyringMismatchRefused(t *testing.T) {
	dir, n := initNode(t, 1)
	rotateAt(t, n, KindSigning, 10, testTime.Add(time.Hour))
	// Put the old key back in place, as a careless restore would.
	old := filepath.Join(dir, "keys", ArchiveDir)
	entries, _ := filepath.Glob(filepath.Join(old, "signing-*"))
	for _, e := range entries {
		data, _ := os.ReadFile(e)
		ext := filepath.Ext(e)
		replaceFile(t, dir, "keys/signing"+ext, data)
	}
	if _, err := Load(dir); err == nil {
		t.Error("Load with the keyring naming another current key = nil error; want a refusal")
	}
}

func TestPassphraseEncryptedKeys(t *testing.T) {
	opts := testOptions(1)
	opts.Passphrase = []byte("correct horse battery staple")
	dir := filepath.Join(t.TempDir(), "node")
	created, err := Init(dir, opts)
	if err != nil {
		t.Fatalf("Init with a passphrase = %v", err)
	}
	for _, rel := range []string{"keys/signing.key", "keys/hpke.key", "tls/node.key"} {
		data, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil || !isEncrypted(data) {
			t.Errorf("%s is not encrypted (%v)", rel, err)
		}
	}

	tests := []struct {
		name string
		env  string
		want error
	}{
		{"right", "correct horse battery staple", nil},
		{"wrong", "incorrect horse", ErrWrongPassphrase},
		{"missing", "", ErrPassphraseRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvKeyPassphrase, tt.env)
			n, err := Load(dir)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load with %s passphrase = %v; want %v", tt.name, err, tt.want)
			}
			if err == nil && n.SigningKeyID != created.SigningKeyID {
				t.Errorf("Load with the right passphrase: signing key %s; want %s", n.SigningKeyID, created.SigningKeyID)
			}
		})
	}

	// A passphrase from LoadOptions, as a terminal prompt gives it; asked
	// once however many files it opens.
	calls := 0
	n, err := LoadWith(dir, LoadOptions{Passphrase: func() ([]byte, error) { calls++; return opts.Passphrase, nil }})
	if err != nil || calls != 1 {
		t.Fatalf("LoadWith(passphrase func) = %v after %d calls; want success after 1", err, calls)
	}
	// Rotation keeps the keys encrypted, and the TLS key opens.
	rotateAt(t, n, KindSigning, 10, testTime.Add(time.Hour))
	if data, _ := os.ReadFile(filepath.Join(dir, "keys/signing.key")); !isEncrypted(data) {
		t.Error("rotated signing key is not encrypted")
	}
	if _, err := n.TLSCertificate(); err != nil {
		t.Errorf("TLSCertificate of an encrypted node = %v", err)
	}
	t.Setenv(EnvKeyPassphrase, "")
	if _, err := Load(dir); !errors.Is(err, ErrPassphraseRequired) {
		t.Errorf("Load after rotation without passphrase = %v; want %v", err, ErrPassphraseRequired)
	}
}

func TestEncryptPrivateKeys(t *testing.T) {
	dir, n := initNode(t, 1)
	rotateAt(t, n, KindHPKE, 10, testTime.Add(time.Hour))
	files, err := n.EncryptPrivateKeys([]byte("pw"))
	if err != nil || len(files) != 4 { // signing, hpke, tls, archived hpke
		t.Fatalf("EncryptPrivateKeys = %v, %v; want 4 files", files, err)
	}
	t.Setenv(EnvKeyPassphrase, "")
	if _, err := Load(dir); !errors.Is(err, ErrPassphraseRequired) {
		t.Errorf("Load of encrypted keys without passphrase = %v; want %v", err, ErrPassphraseRequired)
	}
	t.Setenv(EnvKeyPassphrase, "pw")
	n, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range n.Keys() {
		if k.Kind == KindHPKE && k.Status == StatusRetired {
			if _, err := n.HPKEPrivateKey(k.ID); err != nil {
				t.Errorf("HPKEPrivateKey(archived, encrypted) = %v", err)
			}
		}
	}
}

func TestTLSCertificate(t *testing.T) {
	dir, n := initNode(t, 1)
	cert, err := n.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	again, err := n.TLSCertificate()
	if err != nil || CertificateFingerprint(again.Certificate[0]) != CertificateFingerprint(cert.Certificate[0]) {
		t.Errorf("second TLSCertificate differs (%v); want the same certificate", err)
	}
	fi, err := os.Stat(filepath.Join(dir, TLSDir, TLSKeyFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("TLS key file: %v, %v; want mode 0600", fi, err)
	}
	// A node without a certificate (made before they existed) gets one on
	// first need.
	os.RemoveAll(filepath.Join(dir, TLSDir))
	if _, err := n.TLSCertificate(); err != nil {
		t.Errorf("TLSCertificate with none on disk = %v; want one made", err)
	}
	if err := os.Chmod(filepath.Join(dir, TLSDir, TLSKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := n.TLSCertificate(); !errors.Is(err, ErrInsecurePermissions) {
		t.Errorf("TLSCertificate with a readable key = %v; want %v", err, ErrInsecurePermissions)
	}
}
