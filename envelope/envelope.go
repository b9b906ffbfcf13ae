// Package envelope binds labels to content and seals batches of object
// versions to their recipients, in the spirit of STANAG 4778.
//
// A batch of object versions becomes one envelope. Each object contributes a
// Merkle leaf, a domain-separated hash of its content hash and its label
// hash; the leaves form an RFC 6962 tree. One Ed25519 signature covers the
// hash of the plaintext header (sender, recipients, sequence number,
// algorithms, wrapped keys), the tree's root and the hash of the ciphertext.
// The content (the objects' JSON and their label hashes) is encrypted once
// with a fresh AES-256-GCM data key, and the data key is wrapped to each
// recipient key with HPKE (MLKEM768-X25519, HKDF-SHA256, AES-256-GCM). Relays
// and hubs route on the header without being able to read the content or
// change anything. Every object stays verifiable on its own with its
// inclusion Proof (see VerifyObject). docs/envelope.md specifies the format
// byte by byte.
//
// This package owns the envelope format, its single cipher suite and the
// checks that make an envelope acceptable. It MUST verify the signature
// before it trusts or decrypts anything, MUST refuse every algorithm other
// than the supported suite (never fall back), and MUST fail closed with a
// typed reason (see Error). It does not decide who may receive what (the
// policy package does), does not compute labels (the label package does; a
// label hash is opaque here), does not check that the sender was entitled to
// send an object, and stores nothing.
package envelope

import (
	"crypto/ed25519"
	"crypto/hpke"

	"github.com/tearline/tearline"
)

// FormatVersion is the only envelope format version this package reads and
// writes.
const FormatVersion = 1

// Algorithm identifiers. The HPKE ones are the IANA HPKE registry values;
// ContentAEAD reuses the HPKE AEAD registry; the signature and hash
// identifiers are Tearline's own (docs/envelope.md lists them).
const (
	SigEd25519        uint16 = 0x0001 // Ed25519 (RFC 8032, pure)
	KEMMLKEM768X25519 uint16 = 0x647a // HPKE KEM MLKEM768-X25519 (X-Wing)
	KDFHKDFSHA256     uint16 = 0x0001 // HPKE KDF HKDF-SHA256
	AEADAES256GCM     uint16 = 0x0002 // HPKE AEAD AES-256-GCM
	HashSHA256        uint16 = 0x0001 // SHA-256
)

// Suite names the algorithms an envelope uses. Only SupportedSuite is
// accepted: an envelope naming anything else is refused with
// ErrUnsupportedAlgorithm, never decrypted with a fallback.
type Suite struct {
	Signature   uint16 // signature over the signed digests
	KEM         uint16 // HPKE KEM wrapping the data key
	KDF         uint16 // HPKE KDF
	AEAD        uint16 // HPKE AEAD
	ContentAEAD uint16 // AEAD encrypting the content with the data key
	Hash        uint16 // hash of the header, ciphertext, leaves and tree
}

// SupportedSuite is the one suite of format version 1.
var SupportedSuite = Suite{
	Signature:   SigEd25519,
	KEM:         KEMMLKEM768X25519,
	KDF:         KDFHKDFSHA256,
	AEAD:        AEADAES256GCM,
	ContentAEAD: AEADAES256GCM,
	Hash:        HashSHA256,
}

// Limits that the parser enforces on every length before it reads or
// allocates.
const (
	MaxRecipients     = 256       // partner codes in one header
	MaxWrappedKeys    = 512       // wrapped data keys in one header
	MaxWrappedKeySize = 4096      // bytes of one wrapped data key
	MaxHeaderSize     = 4 << 20   // bytes of a header
	MaxObjects        = 1 << 20   // objects in one batch
	MaxObjectSize     = 16 << 20  // bytes of one object's JSON
	MaxCiphertextSize = 1 << 30   // bytes of the encrypted content
	MaxProofPath      = 64        // hashes in an inclusion path
	maxKeyIDLen       = 64        // bytes of a key id
	wrappedKeySize    = 1120 + 48 // MLKEM768-X25519 enc, then the sealed 32-byte key and its tag
	dataKeySize       = 32
)

// Domain-separation strings. Each is used at a fixed position ahead of
// fixed-size fields, so no length prefix is needed.
const (
	leafContext    = "tearline/envelope/v1/leaf"
	signContext    = "tearline/envelope/v1/signature"
	wrapContext    = "tearline/envelope/v1/wrap"
	contentContext = "tearline/envelope/v1/content"
)

// magic opens every envelope: a high byte, "TLENV", CR LF, so that text
// mangling or a wrong file is caught at once.
const magic = "\x89TLENV\r\n"

// Item is one object of a batch to seal, with the hash of its label.
type Item struct {
	// Object is the object version. Seal uses its JSON and its Hash, which
	// MUST be the SHA-256 of the JSON's RFC 8785 canonical form (as the stix
	// package computes it); the recipient recomputes it and refuses the
	// batch if it differs.
	Object *tearline.Object
	// LabelHash is the label package's hash of the object's label. It is
	// opaque here.
	LabelHash [32]byte
}

// Batch is what Seal puts in one envelope.
type Batch struct {
	// Sequence numbers the batch in the stream from the sender to each
	// recipient. A recipient accepts only a sequence number greater than the
	// last it accepted from that sender, so it MUST increase from batch to
	// batch for every recipient; gaps are allowed, so one counter per sender
	// serves all its streams.
	Sequence uint64
	Items    []Item
}

// Signer is the sending node's signing identity.
type Signer struct {
	Code  string // the sender's partner code, e.g. "GBR"
	KeyID string // the id partners know Key's public half by (node.KeyID)
	Key   ed25519.PrivateKey
}

// Recipient is one key to seal a batch to. A partner with several current
// keys appears once per key.
type Recipient struct {
	Code  string // the recipient's partner code
	KeyID string // the id of Key (node.KeyID)
	Key   hpke.PublicKey
}

// IsEnvelope reports whether data starts like an envelope, so that a reader
// of mixed input (a file given to import) can tell envelopes from STIX.
func IsEnvelope(data []byte) bool {
	return len(data) >= len(magic) && string(data[:len(magic)]) == magic
}
