package envelope

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Header is the plaintext, signed header of an envelope: what relays route
// on. Its binary form is canonical: ParseHeader accepts exactly the bytes
// that AppendBinary writes.
type Header struct {
	Version     uint16
	Suite       Suite
	Sender      string    // the sender's partner code
	SenderKeyID string    // the id of the sender's signing key
	Created     time.Time // when the envelope was sealed, to the nanosecond
	Sequence    uint64    // see Batch.Sequence
	ObjectCount int       // objects in the batch, leaves in the tree
	Recipients  []string  // partner codes, strictly ascending
	WrappedKeys []WrappedKey
}

// WrappedKey is the batch's data key sealed with HPKE to one recipient key.
// A header lists them by ascending Code, then KeyID.
type WrappedKey struct {
	Code  string
	KeyID string
	Data  []byte // HPKE enc followed by the sealed data key
}

// Envelope is an envelope split into its parts by Parse. The byte slices
// alias the parsed input.
type Envelope struct {
	Header      *Header
	HeaderBytes []byte // the header as signed
	Ciphertext  []byte
	Signature   Signature

	coreLen int // length of the header core within HeaderBytes
}

// SignatureSize is the size of a Signature's binary form.
const SignatureSize = 3*32 + 64

// Signature is what the sender signs and the signature itself. The signed
// message is the signature context string followed by the three digests
// (see docs/envelope.md). Verifying the signature over the digests first,
// then comparing each digest with the part it covers, tells a forged
// signature (ErrBadSignature) from a changed header or ciphertext.
type Signature struct {
	HeaderHash     [32]byte // SHA-256 of the header bytes
	Root           [32]byte // RFC 6962 root of the batch's leaves
	CiphertextHash [32]byte // SHA-256 of the ciphertext
	Value          [64]byte // Ed25519 signature
}

// Proof shows that one object and its label belong to a signed batch.
type Proof struct {
	Index uint64     // the object's position in the batch
	Leaf  [32]byte   // the leaf as signed: LeafHash(content hash, label hash)
	Path  [][32]byte // RFC 6962 inclusion path from the leaf to the root
}

// signedMessage returns the bytes that Value signs.
func (s *Signature) signedMessage() []byte {
	m := make([]byte, 0, len(signContext)+3*32)
	m = append(m, signContext...)
	m = append(m, s.HeaderHash[:]...)
	m = append(m, s.Root[:]...)
	return append(m, s.CiphertextHash[:]...)
}

// AppendBinary appends the signature's 160-byte binary form.
func (s *Signature) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, s.HeaderHash[:]...)
	b = append(b, s.Root[:]...)
	b = append(b, s.CiphertextHash[:]...)
	return append(b, s.Value[:]...), nil
}

// ParseSignature reads a signature's binary form.
func ParseSignature(b []byte) (*Signature, error) {
	if len(b) != SignatureSize {
		return nil, reject(ErrMalformed, "signature: %d bytes, want %d", len(b), SignatureSize)
	}
	var s Signature
	copy(s.HeaderHash[:], b[0:32])
	copy(s.Root[:], b[32:64])
	copy(s.CiphertextHash[:], b[64:96])
	copy(s.Value[:], b[96:160])
	return &s, nil
}

// decoder reads big-endian fields, recording the first failure; every read
// after it returns zero values. what names the structure in messages.
type decoder struct {
	b    []byte
	off  int
	what string
	err  *Error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = reject(ErrMalformed, "%s: %s", d.what, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int, field string) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("%s at offset %d: truncated, need %d bytes, have %d", field, d.off, n, len(d.b)-d.off)
		return nil
	}
	s := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return s
}

func (d *decoder) u8(field string) uint8 {
	if s := d.take(1, field); s != nil {
		return s[0]
	}
	return 0
}

func (d *decoder) u16(field string) uint16 {
	if s := d.take(2, field); s != nil {
		return binary.BigEndian.Uint16(s)
	}
	return 0
}

func (d *decoder) u32(field string) uint32 {
	if s := d.take(4, field); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

func (d *decoder) u64(field string) uint64 {
	if s := d.take(8, field); s != nil {
		return binary.BigEndian.Uint64(s)
	}
	return 0
}

// str8 reads a string with a one-byte length.
func (d *decoder) str8(field string) string {
	n := d.u8(field + " length")
	return string(d.take(int(n), field))
}

// end fails unless every byte was read.
func (d *decoder) end() {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d unexpected bytes at offset %d", len(d.b)-d.off, d.off)
	}
}

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
func appendStr8(b []byte, s string) []byte {
	return append(append(b, byte(len(s))), s...)
}

// validCode reports whether s is a partner code: 3 to 10 uppercase ASCII
// letters or digits.
func validCode(s string) bool {
	if len(s) < 3 || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// validKeyID reports whether s is a key id: 1 to 64 lowercase hex digits.
func validKeyID(s string) bool {
	if len(s) < 1 || len(s) > maxKeyIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// check reports the first way h breaks the format, as a detail for
// ErrMalformed, or "" if h is well formed. It does not check the suite.
func (h *Header) check() string {
	switch {
	case h.Version != FormatVersion:
		return fmt.Sprintf("version %d", h.Version)
	case !validCode(h.Sender):
		return fmt.Sprintf("sender %q is not a partner code (3 to 10 uppercase letters or digits)", h.Sender)
	case !validKeyID(h.SenderKeyID):
		return fmt.Sprintf("sender key id %q is not 1 to 64 lowercase hex digits", h.SenderKeyID)
	case h.ObjectCount < 1 || h.ObjectCount > MaxObjects:
		return fmt.Sprintf("object count %d, want 1 to %d", h.ObjectCount, MaxObjects)
	case len(h.Recipients) < 1 || len(h.Recipients) > MaxRecipients:
		return fmt.Sprintf("%d recipients, want 1 to %d", len(h.Recipients), MaxRecipients)
	case len(h.WrappedKeys) < 1 || len(h.WrappedKeys) > MaxWrappedKeys:
		return fmt.Sprintf("%d wrapped keys, want 1 to %d", len(h.WrappedKeys), MaxWrappedKeys)
	}
	for i, r := range h.Recipients {
		if !validCode(r) {
			return fmt.Sprintf("recipient %d: %q is not a partner code", i, r)
		}
		if i > 0 && h.Recipients[i-1] >= r {
			return fmt.Sprintf("recipient %d: %q does not follow %q in strictly ascending order", i, r, h.Recipients[i-1])
		}
	}
	covered := 0 // recipients that have a wrapped key so far
	for i, w := range h.WrappedKeys {
		switch {
		case !validCode(w.Code):
			return fmt.Sprintf("wrapped key %d: %q is not a partner code", i, w.Code)
		case !validKeyID(w.KeyID):
			return fmt.Sprintf("wrapped key %d: key id %q is not 1 to 64 lowercase hex digits", i, w.KeyID)
		case len(w.Data) < 1 || len(w.Data) > MaxWrappedKeySize:
			return fmt.Sprintf("wrapped key %d: %d bytes, want 1 to %d", i, len(w.Data), MaxWrappedKeySize)
		}
		if i > 0 {
			p := h.WrappedKeys[i-1]
			if c := strings.Compare(p.Code, w.Code); c > 0 || c == 0 && p.KeyID >= w.KeyID {
				return fmt.Sprintf("wrapped key %d: (%s, %s) does not follow (%s, %s) in strictly ascending order",
					i, w.Code, w.KeyID, p.Code, p.KeyID)
			}
			if p.Code == w.Code {
				continue
			}
		}
		// A new code: it must be the next recipient.
		if covered >= len(h.Recipients) || h.Recipients[covered] != w.Code {
			return fmt.Sprintf("wrapped key %d: %s is not a recipient, or a recipient before it has no wrapped key", i, w.Code)
		}
		covered++
	}
	if covered != len(h.Recipients) {
		return fmt.Sprintf("recipient %s has no wrapped key", h.Recipients[covered])
	}
	return ""
}

// appendCore appends the header core: every field but the wrapped keys.
func (h *Header) appendCore(b []byte) []byte {
	b = appendU16(b, h.Version)
	b = appendU16(b, h.Suite.Signature)
	b = appendU16(b, h.Suite.KEM)
	b = appendU16(b, h.Suite.KDF)
	b = appendU16(b, h.Suite.AEAD)
	b = appendU16(b, h.Suite.ContentAEAD)
	b = appendU16(b, h.Suite.Hash)
	b = appendStr8(b, h.Sender)
	b = appendStr8(b, h.SenderKeyID)
	b = appendU64(b, uint64(h.Created.UnixNano()))
	b = appendU64(b, h.Sequence)
	b = appendU32(b, uint32(h.ObjectCount))
	b = appendU16(b, uint16(len(h.Recipients)))
	for _, r := range h.Recipients {
		b = appendStr8(b, r)
	}
	return b
}

func appendWrapped(b []byte, keys []WrappedKey) []byte {
	b = appendU16(b, uint16(len(keys)))
	for _, w := range keys {
		b = appendStr8(b, w.Code)
		b = appendStr8(b, w.KeyID)
		b = appendU16(b, uint16(len(w.Data)))
		b = append(b, w.Data...)
	}
	return b
}

// AppendBinary appends the header's binary form. It refuses a header that
// ParseHeader would refuse.
func (h *Header) AppendBinary(b []byte) ([]byte, error) {
	if msg := h.check(); msg != "" {
		return b, reject(ErrMalformed, "header: %s", msg)
	}
	if n := h.size(); n > MaxHeaderSize {
		return b, reject(ErrMalformed, "header: %d bytes, more than %d", n, MaxHeaderSize)
	}
	return appendWrapped(h.appendCore(b), h.WrappedKeys), nil
}

// size is the length of the header's binary form.
func (h *Header) size() int {
	n := 7*2 + 1 + len(h.Sender) + 1 + len(h.SenderKeyID) + 8 + 8 + 4 + 2 + 2
	for _, r := range h.Recipients {
		n += 1 + len(r)
	}
	for _, w := range h.WrappedKeys {
		n += 1 + len(w.Code) + 1 + len(w.KeyID) + 2 + len(w.Data)
	}
	return n
}

// ParseHeader reads a header's binary form. It checks the structure and
// bounds only: whether the suite is supported and the header authentic is
// for Open and VerifyObject to decide. The wrapped keys' Data alias b.
func ParseHeader(b []byte) (*Header, error) {
	h, _, err := parseHeader(b)
	if err != nil {
		return nil, err
	}
	return h, nil
}

// parseHeader also returns the length of the header core.
func parseHeader(b []byte) (*Header, int, error) {
	if len(b) > MaxHeaderSize {
		return nil, 0, reject(ErrMalformed, "header: %d bytes, more than %d", len(b), MaxHeaderSize)
	}
	d := &decoder{b: b, what: "header"}
	h := &Header{Version: d.u16("version")}
	if d.err != nil {
		return nil, 0, d.err
	}
	if h.Version != FormatVersion {
		// The rest of the layout depends on the version: read no further.
		return nil, 0, reject(ErrUnsupportedVersion, "header: version %d, want %d", h.Version, FormatVersion)
	}
	h.Suite = Suite{
		Signature:   d.u16("signature algorithm"),
		KEM:         d.u16("kem"),
		KDF:         d.u16("kdf"),
		AEAD:        d.u16("aead"),
		ContentAEAD: d.u16("content aead"),
		Hash:        d.u16("hash"),
	}
	h.Sender = d.str8("sender")
	h.SenderKeyID = d.str8("sender key id")
	h.Created = time.Unix(0, int64(d.u64("created"))).UTC()
	h.Sequence = d.u64("sequence")
	h.ObjectCount = int(d.u32("object count"))
	if n := int(d.u16("recipient count")); n > MaxRecipients {
		d.fail("%d recipients, more than %d", n, MaxRecipients)
	} else if d.err == nil {
		h.Recipients = make([]string, n)
		for i := range h.Recipients {
			h.Recipients[i] = d.str8(fmt.Sprintf("recipient %d", i))
		}
	}
	core := d.off
	if n := int(d.u16("wrapped key count")); n > MaxWrappedKeys {
		d.fail("%d wrapped keys, more than %d", n, MaxWrappedKeys)
	} else if d.err == nil {
		h.WrappedKeys = make([]WrappedKey, n)
		for i := range h.WrappedKeys {
			w := &h.WrappedKeys[i]
			w.Code = d.str8(fmt.Sprintf("wrapped key %d code", i))
			w.KeyID = d.str8(fmt.Sprintf("wrapped key %d key id", i))
			w.Data = d.take(int(d.u16(fmt.Sprintf("wrapped key %d length", i))), fmt.Sprintf("wrapped key %d", i))
		}
	}
	d.end()
	if d.err != nil {
		return nil, 0, d.err
	}
	if msg := h.check(); msg != "" {
		return nil, 0, reject(ErrMalformed, "header: %s", msg)
	}
	return h, core, nil
}

// Parse splits an envelope into its header, ciphertext and signature,
// checking the structure and every length. It verifies nothing: that is
// Open's work. Relays may route on the header it returns, knowing that a
// recipient will refuse the envelope if anything in it was changed.
func Parse(data []byte) (*Envelope, error) {
	d := &decoder{b: data, what: "envelope"}
	if m := d.take(len(magic), "magic"); d.err == nil && string(m) != magic {
		return nil, reject(ErrMalformed, "envelope: magic %x, want %x", m, magic)
	}
	hlen := d.u32("header length")
	if d.err == nil && (hlen < 2 || hlen > MaxHeaderSize) {
		d.fail("header length %d, want 2 to %d", hlen, MaxHeaderSize)
	}
	hb := d.take(int(hlen), "header")
	clen := d.u32("ciphertext length")
	if d.err == nil && (clen < 16 || clen > MaxCiphertextSize) {
		d.fail("ciphertext length %d, want 16 to %d", clen, MaxCiphertextSize)
	}
	ct := d.take(int(clen), "ciphertext")
	sb := d.take(SignatureSize, "signature")
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	h, core, err := parseHeader(hb)
	if err != nil {
		return nil, err
	}
	sig, _ := ParseSignature(sb)
	return &Envelope{Header: h, HeaderBytes: hb, Ciphertext: ct, Signature: *sig, coreLen: core}, nil
}

// appendEnvelope appends an envelope's binary form from its parts.
func appendEnvelope(b, header, ciphertext []byte, sig *Signature) []byte {
	b = append(b, magic...)
	b = appendU32(b, uint32(len(header)))
	b = append(b, header...)
	b = appendU32(b, uint32(len(ciphertext)))
	b = append(b, ciphertext...)
	b, _ = sig.AppendBinary(b)
	return b
}

// AppendBinary appends the envelope's binary form.
func (e *Envelope) AppendBinary(b []byte) ([]byte, error) {
	if len(e.HeaderBytes) < 2 || len(e.HeaderBytes) > MaxHeaderSize {
		return b, reject(ErrMalformed, "envelope: header length %d, want 2 to %d", len(e.HeaderBytes), MaxHeaderSize)
	}
	if len(e.Ciphertext) < 16 || len(e.Ciphertext) > MaxCiphertextSize {
		return b, reject(ErrMalformed, "envelope: ciphertext length %d, want 16 to %d", len(e.Ciphertext), MaxCiphertextSize)
	}
	return appendEnvelope(b, e.HeaderBytes, e.Ciphertext, &e.Signature), nil
}

// AppendBinary appends the proof's binary form: the index (4 bytes), the
// leaf, the number of path hashes (1 byte) and the path.
func (p *Proof) AppendBinary(b []byte) ([]byte, error) {
	if p.Index >= MaxObjects {
		return b, reject(ErrMalformed, "proof: index %d, want less than %d", p.Index, MaxObjects)
	}
	if len(p.Path) > MaxProofPath {
		return b, reject(ErrMalformed, "proof: %d path hashes, more than %d", len(p.Path), MaxProofPath)
	}
	b = appendU32(b, uint32(p.Index))
	b = append(b, p.Leaf[:]...)
	b = append(b, byte(len(p.Path)))
	for i := range p.Path {
		b = append(b, p.Path[i][:]...)
	}
	return b, nil
}

// ParseProof reads a proof's binary form.
func ParseProof(b []byte) (*Proof, error) {
	d := &decoder{b: b, what: "proof"}
	p := &Proof{Index: uint64(d.u32("index"))}
	copy(p.Leaf[:], d.take(32, "leaf"))
	n := int(d.u8("path length"))
	if d.err == nil && p.Index >= MaxObjects {
		d.fail("index %d, want less than %d", p.Index, MaxObjects)
	}
	if d.err == nil && n > MaxProofPath {
		d.fail("%d path hashes, more than %d", n, MaxProofPath)
	}
	if d.err == nil && len(b)-d.off != 32*n {
		d.fail("path of %d hashes needs %d bytes, have %d", n, 32*n, len(b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	p.Path = make([][32]byte, n)
	for i := range p.Path {
		copy(p.Path[i][:], d.take(32, "path hash"))
	}
	d.end()
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

// hashSum is the suite's hash.
func hashSum(b []byte) [32]byte { return sha256.Sum256(b) }

// equalHash compares two digests. They are public values, so a plain
// comparison is fine.
func equalHash(a, b []byte) bool { return bytes.Equal(a, b) }

// sortedRecipients returns the distinct partner codes of to, ascending.
func sortedRecipients(to []Recipient) []string {
	codes := make([]string, 0, len(to))
	for _, r := range to {
		codes = append(codes, r.Code)
	}
	slices.Sort(codes)
	return slices.Compact(codes)
}
