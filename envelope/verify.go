package envelope

import (
	"crypto/ed25519"
	"fmt"
)

// verifySignature checks the signature over the signed digests, then that
// the header is the one signed. The signature is verified as Ed25519, the
// only signature algorithm there is, whatever the header claims: the suite
// is checked after, by checkSuite, so that a downgraded identifier is
// either a bad signature (an attacker's) or an unsupported algorithm (a
// genuine sender's), never acted on.
func verifySignature(headerBytes []byte, h *Header, sig *Signature, signer ed25519.PublicKey) error {
	if len(signer) != ed25519.PublicKeySize {
		return reject(ErrUnknownKey, "sender %s key %s: public key of %d bytes, want an Ed25519 key", h.Sender, h.SenderKeyID, len(signer))
	}
	if !ed25519.Verify(signer, sig.signedMessage(), sig.Value[:]) {
		return reject(ErrBadSignature, "signature of %s key %s does not verify", h.Sender, h.SenderKeyID)
	}
	if hh := hashSum(headerBytes); hh != sig.HeaderHash {
		return reject(ErrHeaderTampered, "header hashes to %x, signed %x", hh, sig.HeaderHash)
	}
	return nil
}

// checkSuite refuses every suite but SupportedSuite.
func checkSuite(h *Header) error {
	if h.Suite != SupportedSuite {
		return reject(ErrUnsupportedAlgorithm, "suite %s, want %s", h.Suite, SupportedSuite)
	}
	return nil
}

// String shows the suite's identifiers in hex.
func (s Suite) String() string {
	return fmt.Sprintf("sig=%#04x kem=%#04x kdf=%#04x aead=%#04x content-aead=%#04x hash=%#04x",
		s.Signature, s.KEM, s.KDF, s.AEAD, s.ContentAEAD, s.Hash)
}

// VerifyObject checks, without the rest of the batch, that an object with
// content hash contentHash and label hash labelHash was signed by signer as
// part of the batch whose header and signature are given (as Open returned
// them), at the position and by the path that p gives. It returns the
// parsed header, whose fields are then authentic.
//
// The checks run in this order, each failing with its own reason: header
// structure (ErrMalformed, ErrUnsupportedVersion), signature
// (ErrBadSignature), header hash (ErrHeaderTampered), suite
// (ErrUnsupportedAlgorithm), path (ErrPathTampered), then the leaf against
// the content and label hashes (ErrObjectTampered). Whether signer is the
// sender's current, unrevoked key is the caller's to check.
func VerifyObject(header []byte, sig *Signature, signer ed25519.PublicKey, contentHash, labelHash [32]byte, p *Proof) (*Header, error) {
	if sig == nil || p == nil {
		return nil, reject(ErrMalformed, "no signature or no proof")
	}
	h, err := ParseHeader(header)
	if err != nil {
		return nil, err
	}
	if err := verifySignature(header, h, sig, signer); err != nil {
		return nil, err
	}
	if err := checkSuite(h); err != nil {
		return nil, err
	}
	if err := verifyPath(p, h.ObjectCount, sig.Root); err != nil {
		return nil, err
	}
	if leaf := LeafHash(contentHash, labelHash); leaf != p.Leaf {
		return nil, reject(ErrObjectTampered, "object %d: content hash %x and label hash %x give leaf %x, signed %x",
			p.Index, contentHash, labelHash, leaf, p.Leaf)
	}
	return h, nil
}
