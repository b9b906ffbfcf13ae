package envelope

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/stix"
)

// seed32 derives a 32-byte seed from a name, so that test keys are fixed.
func seed32(name string) []byte {
	s := sha256.Sum256([]byte("tearline envelope test key " + name))
	return s[:]
}

// testSigner is a sender with a fixed signing key.
func testSigner(t testing.TB, code string) Signer {
	t.Helper()
	key := ed25519.NewKeyFromSeed(seed32("sign " + code))
	return Signer{Code: code, KeyID: node.KeyID(key.Public().(ed25519.PublicKey)), Key: key}
}

// testNode is a recipient node: its code, and one HPKE key of it.
type testNode struct {
	code  string
	keyID string
	priv  hpke.PrivateKey
}

func newTestNode(t testing.TB, code string, n int) testNode {
	t.Helper()
	priv, err := hpkeKEM.NewPrivateKey(seed32(fmt.Sprintf("hpke %s %d", code, n)))
	if err != nil {
		t.Fatal(err)
	}
	return testNode{code: code, keyID: node.KeyID(priv.PublicKey().Bytes()), priv: priv}
}

func (n testNode) recipient() Recipient {
	return Recipient{Code: n.code, KeyID: n.keyID, Key: n.priv.PublicKey()}
}

func recipientsOf(nodes ...testNode) []Recipient {
	var rs []Recipient
	for _, n := range nodes {
		rs = append(rs, n.recipient())
	}
	return rs
}

// resolverFor knows the signers' keys and nothing else.
func resolverFor(signers ...Signer) KeyResolver {
	return func(sender, keyID string) (ed25519.PublicKey, error) {
		for _, s := range signers {
			if s.Code == sender && s.KeyID == keyID {
				return s.Key.Public().(ed25519.PublicKey), nil
			}
		}
		return nil, fmt.Errorf("%w: %s %s", ErrUnknownKey, sender, keyID)
	}
}

// testObject returns a valid STIX indicator, numbered i, of about size
// bytes of JSON, parsed by the stix package (which computes its hash).
func testObject(t testing.TB, i, size int) *tearline.Object {
	t.Helper()
	base := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--%08x-0000-4000-8000-%012x",`+
		`"created":"2026-01-02T03:04:05.000Z","modified":"2026-01-02T03:04:05.000Z","name":"Relay %d",`+
		`"pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-02T03:04:05Z",`+
		`"description":"`, i, i, i, i%256)
	pad := size - len(base) - 2
	if pad < 1 {
		pad = 1
	}
	js := base + strings.Repeat(string(rune('a'+i%26)), pad) + `"}`
	obj, _, err := stix.Parse([]byte(js))
	if err != nil {
		t.Fatalf("stix.Parse(test object %d) = %v", i, err)
	}
	return obj
}

// testLabelHash stands for the label package's hash of a label.
func testLabelHash(i int) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "label %d", i))
}

func testBatch(t testing.TB, n, size int, seq uint64) *Batch {
	t.Helper()
	b := &Batch{Sequence: seq}
	for i := range n {
		b.Items = append(b.Items, Item{Object: testObject(t, i, size), LabelHash: testLabelHash(i)})
	}
	return b
}

var testTime = time.Date(2026, 3, 4, 5, 6, 7, 890123456, time.UTC)

// countingReader yields 0, 1, 2, ... as bytes: a fixed data key.
type countingReader struct{ n byte }

func (r *countingReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = r.n
		r.n++
	}
	return len(p), nil
}

// mustSeal seals or fails the test.
func mustSeal(t testing.TB, b *Batch, from Signer, to []Recipient) []byte {
	t.Helper()
	env, err := Seal(b, from, to, &countingReader{}, testTime)
	if err != nil {
		t.Fatalf("Seal() = %v", err)
	}
	return env
}

// open opens env as n with a fresh replay guard.
func (n testNode) open(env []byte, resolve KeyResolver) (*Opened, error) {
	return Open(env, n.code, n.keyID, n.priv, resolve, &MemoryReplayGuard{})
}

// isOneOf reports whether err is one of the reasons.
func isOneOf(err error, reasons ...error) bool {
	for _, r := range reasons {
		if errors.Is(err, r) {
			return true
		}
	}
	return false
}

// Test-side reading of the format, written from docs/envelope.md rather than
// from the package's parser, to cross-check both.

// splitEnvelope cuts an envelope into header, ciphertext and signature block.
func splitEnvelope(t testing.TB, env []byte) (header, ct, sig []byte) {
	t.Helper()
	if string(env[:8]) != "\x89TLENV\r\n" {
		t.Fatalf("magic %x", env[:8])
	}
	hl := int(binary.BigEndian.Uint32(env[8:]))
	header = env[12 : 12+hl]
	cl := int(binary.BigEndian.Uint32(env[12+hl:]))
	ct = env[16+hl : 16+hl+cl]
	sig = env[16+hl+cl:]
	if len(sig) != 160 {
		t.Fatalf("signature block of %d bytes", len(sig))
	}
	return header, ct, sig
}

// field is a span of header bytes and what it holds.
type field struct {
	start, end int
	kind       string
}

// headerFields lists the fields of a version 1 header.
func headerFields(t testing.TB, h []byte) (fields []field, coreLen int) {
	t.Helper()
	off := 0
	add := func(n int, kind string) int {
		fields = append(fields, field{off, off + n, kind})
		off += n
		return off - n
	}
	str := func(kind string) {
		n := int(h[add(1, kind+"-len")])
		add(n, kind)
	}
	add(2, "version")
	add(12, "suite")
	str("sender")
	str("sender-key-id")
	add(8, "created")
	add(8, "sequence")
	add(4, "object-count")
	nr := int(binary.BigEndian.Uint16(h[add(2, "recipient-count"):]))
	for range nr {
		str("recipient")
	}
	coreLen = off
	nw := int(binary.BigEndian.Uint16(h[add(2, "wrapped-count"):]))
	for range nw {
		str("wrapped-code")
		str("wrapped-key-id")
		n := int(binary.BigEndian.Uint16(h[add(2, "wrapped-data-len"):]))
		add(n, "wrapped-data")
	}
	if off != len(h) {
		t.Fatalf("header fields end at %d of %d bytes", off, len(h))
	}
	return fields, coreLen
}

// wrappedKeyFor finds the wrapped key of (code, keyID) in a header.
func wrappedKeyFor(t testing.TB, h []byte, code, keyID string) []byte {
	t.Helper()
	fields, _ := headerFields(t, h)
	for i, f := range fields {
		if f.kind == "wrapped-code" && string(h[f.start:f.end]) == code &&
			string(h[fields[i+2].start:fields[i+2].end]) == keyID {
			d := fields[i+4]
			return h[d.start:d.end]
		}
	}
	t.Fatalf("no wrapped key for %s %s", code, keyID)
	return nil
}

// decryptDoc unwraps and decrypts an envelope for n following the format
// document step by step, returning the data key and the content plaintext.
func decryptDoc(t testing.TB, env []byte, n testNode) (dataKey, plain []byte) {
	t.Helper()
	header, ct, _ := splitEnvelope(t, env)
	_, coreLen := headerFields(t, header)
	coreHash := sha256.Sum256(header[:coreLen])
	info := []byte("tearline/envelope/v1/wrap")
	info = append(info, coreHash[:]...)
	info = append(info, byte(len(n.code)))
	info = append(info, n.code...)
	info = append(info, byte(len(n.keyID)))
	info = append(info, n.keyID...)
	dataKey, err := hpke.Open(n.priv, hpke.HKDFSHA256(), hpke.AES256GCM(), info, wrappedKeyFor(t, header, n.code, n.keyID))
	if err != nil {
		t.Fatalf("hpke.Open(wrapped key) = %v", err)
	}
	headerHash := sha256.Sum256(header)
	gcm := testGCM(t, dataKey)
	plain, err = gcm.Open(nil, make([]byte, 12), ct, append([]byte("tearline/envelope/v1/content"), headerHash[:]...))
	if err != nil {
		t.Fatalf("AES-GCM open = %v", err)
	}
	return dataKey, plain
}

func testGCM(t testing.TB, key []byte) cipher.AEAD {
	t.Helper()
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return gcm
}

// resign rebuilds an envelope as a sender holding key would: mutate may
// change the header bytes and the content plaintext (decrypted with n's
// key); the content is re-encrypted under the same data key, and the
// header hash, the original root and the ciphertext hash signed again.
func resign(t testing.TB, env []byte, n testNode, key ed25519.PrivateKey, mutate func(header, plain []byte) (newHeader, newPlain []byte)) []byte {
	t.Helper()
	dataKey, plain := decryptDoc(t, env, n)
	header, _, _ := splitEnvelope(t, env)
	header, plain = mutate(append([]byte(nil), header...), plain)
	headerHash := sha256.Sum256(header)
	ct := testGCM(t, dataKey).Seal(nil, make([]byte, 12), plain, append([]byte("tearline/envelope/v1/content"), headerHash[:]...))
	var sig Signature
	sig.HeaderHash = headerHash
	sig.CiphertextHash = sha256.Sum256(ct)
	// The signed root stays the original: a sender that changes a leaf
	// without signing its new root is what the callers test.
	_, _, sb := splitEnvelope(t, env)
	copy(sig.Root[:], sb[32:64])
	msg := append([]byte("tearline/envelope/v1/signature"), sig.HeaderHash[:]...)
	msg = append(msg, sig.Root[:]...)
	msg = append(msg, sig.CiphertextHash[:]...)
	copy(sig.Value[:], ed25519.Sign(key, msg))
	return appendEnvelope(nil, header, ct, &sig)
}

// contentLeaves computes the leaves of a content plaintext as the format
// document says.
func contentLeaves(plain []byte) ([][32]byte, error) {
	if len(plain) < 4 {
		return nil, errors.New("short")
	}
	n := int(binary.BigEndian.Uint32(plain))
	off := 4
	var leaves [][32]byte
	for range n {
		if len(plain)-off < 68 {
			return nil, errors.New("short")
		}
		data := append([]byte("\x00tearline/envelope/v1/leaf"), plain[off:off+64]...)
		leaves = append(leaves, sha256.Sum256(data))
		l := int(binary.BigEndian.Uint32(plain[off+64:]))
		off += 68 + l
		if off > len(plain) {
			return nil, errors.New("short")
		}
	}
	return leaves, nil
}
