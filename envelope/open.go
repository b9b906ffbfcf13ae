package envelope

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/tearline/tearline/stix"
)

// KeyResolver returns the public signing key that a partner's node signs
// with, by partner code and key id. It MUST return an error wrapping
// ErrUnknownKey for a key it does not know for that partner, and one
// wrapping ErrKeyRevoked for a key that was revoked. Any other error is
// taken as a failure to look the key up, and refuses the envelope too.
type KeyResolver func(sender, keyID string) (ed25519.PublicKey, error)

// Opened is an envelope that passed every check.
type Opened struct {
	// Header is the authenticated header.
	Header *Header
	// HeaderBytes and Signature are what VerifyObject needs, with an
	// object's Proof, to check the object again on its own later.
	HeaderBytes []byte
	Signature   Signature
	Objects     []Received
}

// Received is one object of an opened batch.
type Received struct {
	// JSON is the object exactly as the sender stored it.
	JSON []byte
	// ContentHash is the SHA-256 of JSON's RFC 8785 canonical form (checked).
	ContentHash [32]byte
	// LabelHash is the label hash the sender bound to the object. The
	// caller MUST check that the label it derives from the object hashes to
	// it before relying on that label.
	LabelHash [32]byte
	// Proof places the object in the signed batch (see VerifyObject).
	Proof Proof
}

// Open verifies and decrypts an envelope addressed to the partner code and
// HPKE key (with id keyID) given, resolving the sender's signing key with
// resolve and refusing replays with replay.
//
// It checks, in this order, and refuses with an *Error whose Reason says
// which check failed: the structure and bounds (ErrMalformed,
// ErrUnsupportedVersion); the sender's key (ErrUnknownKey, ErrKeyRevoked,
// from resolve); the signature over the signed digests (ErrBadSignature);
// that the header is the one signed (ErrHeaderTampered) and so is the
// ciphertext (ErrContentTampered); the suite (ErrUnsupportedAlgorithm);
// that this key is a recipient (ErrNotRecipient); the data key
// (ErrKeyUnwrap); the decryption (ErrContentTampered); that every object's
// JSON has its content hash and every leaf is in the signed root
// (ErrObjectTampered); and last the sequence number (ErrReplay). Nothing is
// decrypted before the signature is verified. A failure of resolve or
// replay that is not a refusal is returned wrapped, not as an *Error.
func Open(data []byte, code, keyID string, key hpke.PrivateKey, resolve KeyResolver, replay ReplayGuard) (*Opened, error) {
	switch {
	case key == nil || resolve == nil || replay == nil:
		return nil, errors.New("open envelope: a private key, a key resolver and a replay guard are required")
	case key.KEM().ID() != KEMMLKEM768X25519:
		return nil, fmt.Errorf("open envelope: private key of KEM %#04x: %w", key.KEM().ID(), ErrUnsupportedAlgorithm)
	}
	env, err := Parse(data)
	if err != nil {
		return nil, err
	}
	h := env.Header

	signer, err := resolve(h.Sender, h.SenderKeyID)
	switch {
	case errors.Is(err, ErrKeyRevoked):
		return nil, &Error{Reason: ErrKeyRevoked, Detail: fmt.Sprintf("sender %s key %s", h.Sender, h.SenderKeyID), Err: err}
	case errors.Is(err, ErrUnknownKey):
		return nil, &Error{Reason: ErrUnknownKey, Detail: fmt.Sprintf("sender %s key %s", h.Sender, h.SenderKeyID), Err: err}
	case err != nil:
		return nil, fmt.Errorf("open envelope: resolve sender %s key %s: %w", h.Sender, h.SenderKeyID, err)
	case signer == nil:
		return nil, reject(ErrUnknownKey, "sender %s key %s", h.Sender, h.SenderKeyID)
	}
	if err := verifySignature(env.HeaderBytes, h, &env.Signature, signer); err != nil {
		return nil, err
	}
	if ch := hashSum(env.Ciphertext); ch != env.Signature.CiphertextHash {
		return nil, reject(ErrContentTampered, "ciphertext hashes to %x, signed %x", ch, env.Signature.CiphertextHash)
	}
	if err := checkSuite(h); err != nil {
		return nil, err
	}
	for i, w := range h.WrappedKeys {
		if len(w.Data) != wrappedKeySize {
			return nil, reject(ErrMalformed, "header: wrapped key %d: %d bytes, the suite's are %d", i, len(w.Data), wrappedKeySize)
		}
	}

	if _, ok := slices.BinarySearch(h.Recipients, code); !ok {
		return nil, reject(ErrNotRecipient, "envelope from %s is for %v, not %s", h.Sender, h.Recipients, code)
	}
	i := slices.IndexFunc(h.WrappedKeys, func(w WrappedKey) bool { return w.Code == code && w.KeyID == keyID })
	if i < 0 {
		return nil, reject(ErrNotRecipient, "envelope from %s has no data key for %s key %s", h.Sender, code, keyID)
	}
	coreHash := hashSum(env.HeaderBytes[:env.coreLen])
	dataKey, err := hpke.Open(key, hpkeKDF, hpkeAEAD, wrapInfo(coreHash, code, keyID), h.WrappedKeys[i].Data)
	if err != nil || len(dataKey) != dataKeySize {
		return nil, reject(ErrKeyUnwrap, "%s key %s: the data key does not open with this private key", code, keyID)
	}
	defer clear(dataKey)
	gcm, err := newContentAEAD(dataKey)
	if err != nil {
		return nil, fmt.Errorf("open envelope: %w", err)
	}
	plain, err := gcm.Open(nil, contentNonce[:], env.Ciphertext, contentAAD(env.Signature.HeaderHash))
	if err != nil {
		return nil, reject(ErrContentTampered, "content does not decrypt")
	}

	objs, err := parseContent(plain, h.ObjectCount)
	if err != nil {
		return nil, err
	}
	leaves := make([][32]byte, len(objs))
	for i := range objs {
		o := &objs[i]
		canon, err := stix.Canonicalize(o.JSON)
		if err != nil {
			return nil, reject(ErrObjectTampered, "object %d: not canonicalisable JSON: %v", i, err)
		}
		if sum := sha256.Sum256(canon); sum != o.ContentHash {
			return nil, reject(ErrObjectTampered, "object %d: JSON hashes to %x, bound content hash %x", i, sum, o.ContentHash)
		}
		leaves[i] = LeafHash(o.ContentHash, o.LabelHash)
	}
	t := newTree(leaves)
	if t.root != env.Signature.Root {
		return nil, reject(ErrObjectTampered, "the objects and labels give root %x, signed %x", t.root, env.Signature.Root)
	}

	if err := replay.Seen(h.Sender, code, h.Sequence); err != nil {
		if errors.Is(err, ErrReplay) {
			return nil, &Error{Reason: ErrReplay, Detail: fmt.Sprintf("%s to %s sequence %d", h.Sender, code, h.Sequence), Err: err}
		}
		return nil, fmt.Errorf("open envelope: replay guard: %w", err)
	}

	for i := range objs {
		o := &objs[i]
		path, err := t.proof(uint64(i))
		if err != nil {
			return nil, fmt.Errorf("open envelope: proof of object %d: %w", i, err)
		}
		o.Proof = Proof{Index: uint64(i), Leaf: leaves[i], Path: path}
	}
	return &Opened{Header: h, HeaderBytes: env.HeaderBytes, Signature: env.Signature, Objects: objs}, nil
}

// parseContent reads the decrypted content: the object count, then for each
// object its content hash, label hash and length-prefixed JSON. The JSON
// slices alias plain.
func parseContent(plain []byte, want int) ([]Received, error) {
	if len(plain) < 4 {
		return nil, reject(ErrMalformed, "content: truncated, %d bytes", len(plain))
	}
	if n := binary.BigEndian.Uint32(plain); int64(n) != int64(want) {
		return nil, reject(ErrMalformed, "content: %d objects, the header says %d", n, want)
	}
	// Each object takes at least 69 bytes: bound the count before allocating.
	if rest := len(plain) - 4; want > rest/69 {
		return nil, reject(ErrMalformed, "content: %d bytes cannot hold %d objects", rest, want)
	}
	objs := make([]Received, want)
	off := 4
	for i := range objs {
		o := &objs[i]
		if len(plain)-off < 68 {
			return nil, reject(ErrMalformed, "content: object %d at offset %d: truncated", i, off)
		}
		copy(o.ContentHash[:], plain[off:off+32])
		copy(o.LabelHash[:], plain[off+32:off+64])
		l := binary.BigEndian.Uint32(plain[off+64:])
		off += 68
		if l == 0 || l > MaxObjectSize || uint64(l) > uint64(len(plain)-off) {
			return nil, reject(ErrMalformed, "content: object %d at offset %d: length %d, want 1 to %d within the %d bytes left",
				i, off-4, l, MaxObjectSize, len(plain)-off)
		}
		o.JSON = plain[off : off+int(l) : off+int(l)]
		off += int(l)
	}
	if off != len(plain) {
		return nil, reject(ErrMalformed, "content: %d unexpected bytes at offset %d", len(plain)-off, off)
	}
	return objs, nil
}
