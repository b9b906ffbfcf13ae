package envelope

import (
	"cmp"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hpke"
	cryptorand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"
)

// The supported suite's HPKE components.
var (
	hpkeKEM  = hpke.MLKEM768X25519()
	hpkeKDF  = hpke.HKDFSHA256()
	hpkeAEAD = hpke.AES256GCM()
)

// contentNonce is the content AEAD's nonce. Every data key is fresh and
// encrypts exactly one message, so a fixed nonce can never repeat under a
// key; it is not transmitted.
var contentNonce [12]byte

// Seal signs batch b as from and seals it to every recipient key in to,
// returning the envelope's bytes.
//
// rand supplies the 32-byte data key (nil means crypto/rand). HPKE draws
// its encapsulation randomness from crypto/rand itself, since crypto/hpke
// takes no reader; tests make it reproducible with
// testing/cryptotest.SetGlobalRandom. now is recorded as the creation time.
//
// Seal trusts each Item's Object.Hash to be the object's content hash; the
// recipient recomputes it and refuses the whole batch if one differs.
func Seal(b *Batch, from Signer, to []Recipient, rand io.Reader, now time.Time) ([]byte, error) {
	if err := checkSealInput(b, &from, to, now); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	if rand == nil {
		rand = cryptorand.Reader
	}

	to = slices.Clone(to)
	slices.SortFunc(to, func(x, y Recipient) int {
		return cmp.Or(cmp.Compare(x.Code, y.Code), cmp.Compare(x.KeyID, y.KeyID))
	})
	h := &Header{
		Version:     FormatVersion,
		Suite:       SupportedSuite,
		Sender:      from.Code,
		SenderKeyID: from.KeyID,
		Created:     now,
		Sequence:    b.Sequence,
		ObjectCount: len(b.Items),
		Recipients:  sortedRecipients(to),
	}
	core := h.appendCore(nil)
	coreHash := hashSum(core)

	dataKey := make([]byte, dataKeySize)
	defer clear(dataKey)
	if _, err := io.ReadFull(rand, dataKey); err != nil {
		return nil, fmt.Errorf("seal: read data key: %w", err)
	}
	h.WrappedKeys = make([]WrappedKey, len(to))
	for i, r := range to {
		wrapped, err := hpke.Seal(r.Key, hpkeKDF, hpkeAEAD, wrapInfo(coreHash, r.Code, r.KeyID), dataKey)
		if err != nil {
			return nil, fmt.Errorf("seal: wrap data key to %s key %s: %w", r.Code, r.KeyID, err)
		}
		if len(wrapped) != wrappedKeySize {
			return nil, fmt.Errorf("seal: wrapped key to %s key %s: %d bytes, want %d", r.Code, r.KeyID, len(wrapped), wrappedKeySize)
		}
		h.WrappedKeys[i] = WrappedKey{Code: r.Code, KeyID: r.KeyID, Data: wrapped}
	}
	header, err := h.AppendBinary(make([]byte, 0, h.size()))
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	var sig Signature
	sig.HeaderHash = hashSum(header)

	plain, leaves := frameContent(b.Items)
	defer clear(plain)
	sig.Root = newTree(leaves).root

	gcm, err := newContentAEAD(dataKey)
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	ctLen := len(plain) + gcm.Overhead()
	if ctLen > MaxCiphertextSize {
		return nil, fmt.Errorf("seal: content of %d bytes, more than %d; split the batch", len(plain), MaxCiphertextSize-gcm.Overhead())
	}
	out := make([]byte, 0, len(magic)+4+len(header)+4+ctLen+SignatureSize)
	out = append(out, magic...)
	out = appendU32(out, uint32(len(header)))
	out = append(out, header...)
	out = appendU32(out, uint32(ctLen))
	ctStart := len(out)
	out = gcm.Seal(out, contentNonce[:], plain, contentAAD(sig.HeaderHash))
	sig.CiphertextHash = hashSum(out[ctStart:])

	copy(sig.Value[:], ed25519.Sign(from.Key, sig.signedMessage()))
	out, _ = sig.AppendBinary(out)
	return out, nil
}

func checkSealInput(b *Batch, from *Signer, to []Recipient, now time.Time) error {
	switch {
	case b == nil || len(b.Items) == 0:
		return errors.New("empty batch")
	case len(b.Items) > MaxObjects:
		return fmt.Errorf("batch of %d objects, more than %d; split it", len(b.Items), MaxObjects)
	case !validCode(from.Code):
		return fmt.Errorf("sender code %q is not a partner code (3 to 10 uppercase letters or digits)", from.Code)
	case !validKeyID(from.KeyID):
		return fmt.Errorf("sender key id %q is not 1 to 64 lowercase hex digits", from.KeyID)
	case len(from.Key) != ed25519.PrivateKeySize:
		return fmt.Errorf("sender key of %d bytes is not an Ed25519 private key", len(from.Key))
	case len(to) == 0:
		return errors.New("no recipients")
	case len(to) > MaxWrappedKeys:
		return fmt.Errorf("%d recipient keys, more than %d", len(to), MaxWrappedKeys)
	case now.IsZero() || now.UnixNano() < 0 || !time.Unix(0, now.UnixNano()).Equal(now):
		return fmt.Errorf("creation time %v is not between 1970 and 2262", now)
	}
	for i, it := range b.Items {
		switch {
		case it.Object == nil:
			return fmt.Errorf("item %d has no object", i)
		case len(it.Object.JSON) == 0:
			return fmt.Errorf("item %d (%s): empty JSON", i, it.Object.ID)
		case len(it.Object.JSON) > MaxObjectSize:
			return fmt.Errorf("item %d (%s): %d bytes of JSON, more than %d", i, it.Object.ID, len(it.Object.JSON), MaxObjectSize)
		}
	}
	seen := make(map[[2]string]bool, len(to))
	for i, r := range to {
		switch {
		case !validCode(r.Code):
			return fmt.Errorf("recipient %d: %q is not a partner code", i, r.Code)
		case !validKeyID(r.KeyID):
			return fmt.Errorf("recipient %d (%s): key id %q is not 1 to 64 lowercase hex digits", i, r.Code, r.KeyID)
		case r.Key == nil:
			return fmt.Errorf("recipient %d (%s key %s): no key", i, r.Code, r.KeyID)
		case r.Key.KEM().ID() != KEMMLKEM768X25519:
			return fmt.Errorf("recipient %d (%s key %s): KEM %#04x: %w", i, r.Code, r.KeyID, r.Key.KEM().ID(), ErrUnsupportedAlgorithm)
		case seen[[2]string{r.Code, r.KeyID}]:
			return fmt.Errorf("recipient %d: %s key %s is listed twice", i, r.Code, r.KeyID)
		}
		seen[[2]string{r.Code, r.KeyID}] = true
	}
	if n := len(sortedRecipients(to)); n > MaxRecipients {
		return fmt.Errorf("%d recipients, more than %d", n, MaxRecipients)
	}
	return nil
}

// frameContent returns the content plaintext (see docs/envelope.md) and the
// batch's leaves.
func frameContent(items []Item) ([]byte, [][32]byte) {
	n := 4
	for _, it := range items {
		n += 32 + 32 + 4 + len(it.Object.JSON)
	}
	plain := make([]byte, 0, n)
	plain = appendU32(plain, uint32(len(items)))
	leaves := make([][32]byte, len(items))
	for i, it := range items {
		plain = append(plain, it.Object.Hash[:]...)
		plain = append(plain, it.LabelHash[:]...)
		plain = appendU32(plain, uint32(len(it.Object.JSON)))
		plain = append(plain, it.Object.JSON...)
		leaves[i] = LeafHash(it.Object.Hash, it.LabelHash)
	}
	return plain, leaves
}

// wrapInfo is the HPKE info for the data key wrapped to one recipient key:
// it binds the wrap to this header's core and to that recipient.
func wrapInfo(coreHash [32]byte, code, keyID string) []byte {
	info := make([]byte, 0, len(wrapContext)+32+2+len(code)+len(keyID))
	info = append(info, wrapContext...)
	info = append(info, coreHash[:]...)
	info = appendStr8(info, code)
	return appendStr8(info, keyID)
}

// contentAAD is the content AEAD's additional data: it binds the
// ciphertext to the whole header.
func contentAAD(headerHash [32]byte) []byte {
	return append([]byte(contentContext), headerHash[:]...)
}

func newContentAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
