package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the signed-note algorithm byte for Ed25519 keys.
const algEd25519 = 0x01

// keyHash is the signed-note key hash: the first four bytes of
// SHA-256(name || "\n" || algorithm || public key).
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// NewSigner signs checkpoints of the log called name with a node's
// Ed25519 key, as the signed-note format's Ed25519 signer does, without
// the key leaving the node's key file format.
func NewSigner(name string, key ed25519.PrivateKey) note.Signer {
	return &signer{name: name, key: key, hash: keyHash(name, key.Public().(ed25519.PublicKey))}
}

// NewVerifier verifies checkpoints signed by NewSigner's key.
func NewVerifier(name string, pub ed25519.PublicKey) note.Verifier {
	return &verifier{name: name, pub: pub, hash: keyHash(name, pub)}
}

type signer struct {
	name string
	key  ed25519.PrivateKey
	hash uint32
}

func (s *signer) Name() string                    { return s.name }
func (s *signer) KeyHash() uint32                 { return s.hash }
func (s *signer) Sign(msg []byte) ([]byte, error) { return ed25519.Sign(s.key, msg), nil }

type verifier struct {
	name string
	pub  ed25519.PublicKey
	hash uint32
}

func (v *verifier) Name() string    { return v.name }
func (v *verifier) KeyHash() uint32 { return v.hash }
func (v *verifier) Verify(msg, sig []byte) bool {
	return len(v.pub) == ed25519.PublicKeySize && ed25519.Verify(v.pub, msg, sig)
}

// NewVerifiers verifies checkpoints of the log called name signed by any
// of keys: a node's current and retired signing keys.
func NewVerifiers(name string, keys ...ed25519.PublicKey) []note.Verifier {
	vs := make([]note.Verifier, len(keys))
	for i, k := range keys {
		vs[i] = NewVerifier(name, k)
	}
	return vs
}
