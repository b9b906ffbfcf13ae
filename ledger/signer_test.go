package ledger

import (
	"crypto/ed25519"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

// TestSignerMatchesNote checks the signer against the signed-note
// package's own Ed25519 verifier: same key hash, signatures accepted.
func TestSignerMatchesNote(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	const name = "tearline.example/GBR"
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	std, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	s := NewSigner(name, priv)
	if s.KeyHash() != std.KeyHash() || NewVerifier(name, pub).KeyHash() != std.KeyHash() {
		t.Fatalf("key hash %08x; the note package's is %08x", s.KeyHash(), std.KeyHash())
	}
	signed, err := SignCheckpoint(Checkpoint{Origin: name, Size: 3, Root: [32]byte{1}}, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenCheckpoint(signed, std); err != nil {
		t.Errorf("the note package's verifier refuses our checkpoint: %v", err)
	}
	if _, _, err := OpenCheckpoint(signed, NewVerifier(name, pub)); err != nil {
		t.Errorf("our verifier refuses our checkpoint: %v", err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, _, err := OpenCheckpoint(signed, NewVerifier(name, other)); err == nil {
		t.Error("a checkpoint opened with another key")
	}
}
