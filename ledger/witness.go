package ledger

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Cosignatures follow C2SP tlog-cosignature v1: signature type 0x04, key ID
// SHA-256(name || 0x0A || 0x04 || public key)[:4], and a signature of
// "cosignature/v1\ntime <seconds>\n" followed by the checkpoint body, encoded
// as the 8-byte big-endian timestamp followed by the Ed25519 signature.
const cosignatureAlg = 0x04

func cosignatureKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', cosignatureAlg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

func cosignedMessage(ts uint64, text []byte) []byte {
	m := []byte("cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n")
	return append(m, text...)
}

// Cosigner is a witness key that cosigns checkpoints. It implements
// note.Signer.
type Cosigner struct {
	name string
	key  ed25519.PrivateKey
	hash uint32
	now  func() time.Time
}

var _ note.Signer = (*Cosigner)(nil)

// NewCosigner returns a cosigner named name (the witness's own origin, e.g.
// "tearline.example/FRA") using key; now is the clock stamped into each
// cosignature.
func NewCosigner(name string, key ed25519.PrivateKey, now func() time.Time) *Cosigner {
	return &Cosigner{name: name, key: key, hash: cosignatureKeyHash(name, key.Public().(ed25519.PublicKey)), now: now}
}

// Name implements note.Signer.
func (c *Cosigner) Name() string { return c.name }

// KeyHash implements note.Signer.
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// Sign implements note.Signer.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	t := c.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cosign: clock before 1970")
	}
	sig := binary.BigEndian.AppendUint64(nil, uint64(t))
	return append(sig, ed25519.Sign(c.key, cosignedMessage(uint64(t), msg))...), nil
}

// Verifier returns the verifier of this cosigner's signatures.
func (c *Cosigner) Verifier() *CosignatureVerifier {
	return NewCosignatureVerifier(c.name, c.key.Public().(ed25519.PublicKey))
}

// CosignatureVerifier verifies tlog-cosignature/v1 signatures. It
// implements note.Verifier.
type CosignatureVerifier struct {
	name string
	key  ed25519.PublicKey
	hash uint32
}

var _ note.Verifier = (*CosignatureVerifier)(nil)

// NewCosignatureVerifier returns the verifier for a witness key.
func NewCosignatureVerifier(name string, key ed25519.PublicKey) *CosignatureVerifier {
	return &CosignatureVerifier{name: name, key: key, hash: cosignatureKeyHash(name, key)}
}

// Name implements note.Verifier.
func (v *CosignatureVerifier) Name() string { return v.name }

// KeyHash implements note.Verifier.
func (v *CosignatureVerifier) KeyHash() uint32 { return v.hash }

// Verify implements note.Verifier.
func (v *CosignatureVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	return ed25519.Verify(v.key, cosignedMessage(ts, msg), sig[8:])
}

// CosignedAt returns the time a cosignature claims; ok is false if sig is
// not a cosignature.
func CosignedAt(sig note.Signature) (t time.Time, ok bool) {
	b, err := decodeSig(sig.Base64)
	if err != nil || len(b) != 4+8+ed25519.SignatureSize {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(b[4:])), 0).UTC(), true
}

// SplitView is the evidence that a log showed two histories: two
// checkpoints of the same origin, both validly signed by the log's key,
// that no consistency proof reconciles.
type SplitView struct {
	A, B   []byte // the two signed checkpoints
	Reason string
}

func (e *SplitView) Error() string { return "ledger split view: " + e.Reason }

// ErrRollback is wrapped when a checkpoint is older than one already seen.
var ErrRollback = errors.New("checkpoint older than the one already seen")

// Detect checks two signed checkpoints of the log whose key is log. It
// returns a *SplitView when they have the same size and different roots, or
// when proof does not show the smaller to be a prefix of the larger. A
// checkpoint that does not verify is an ordinary ErrCheckpoint error, never
// evidence.
func Detect(a, b []byte, log note.Verifier, proof [][]byte) error {
	ca, _, err := OpenCheckpoint(a, log)
	if err != nil {
		return fmt.Errorf("detect: first: %w", err)
	}
	cb, _, err := OpenCheckpoint(b, log)
	if err != nil {
		return fmt.Errorf("detect: second: %w", err)
	}
	if ca.Size > cb.Size {
		ca, cb = cb, ca
		a, b = b, a
	}
	if ca.Size == cb.Size {
		if ca.Root != cb.Root {
			return &SplitView{A: a, B: b, Reason: fmt.Sprintf("two roots for size %d", ca.Size)}
		}
		return nil
	}
	if err := VerifyConsistency(ca.Size, cb.Size, ca.Root, cb.Root, proof); err != nil {
		return &SplitView{A: a, B: b, Reason: fmt.Sprintf("size %d not consistent with size %d: %v", ca.Size, cb.Size, err)}
	}
	return nil
}

// Witness cosigns one partner log's checkpoints.
type Witness struct {
	Log    note.Verifier // the partner log's key
	Signer note.Signer   // this node's witness key, usually a *Cosigner
}

// Cosign verifies the partner's signed checkpoint, checks that it extends
// prev (the last checkpoint this witness cosigned for that log, nil for the
// first) using proof, and returns the checkpoint with this witness's
// cosignature added. Cosignatures already on the note are kept. It returns
// a *SplitView if the log forked, and ErrRollback if it went backwards.
func (w *Witness) Cosign(signed, prev []byte, proof [][]byte) ([]byte, error) {
	c, n, err := OpenCheckpoint(signed, w.Log)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	if prev != nil {
		p, _, err := OpenCheckpoint(prev, w.Log)
		if err != nil {
			return nil, fmt.Errorf("cosign: previous: %w", err)
		}
		if c.Size < p.Size {
			return nil, fmt.Errorf("cosign: %w: size %d after %d", ErrRollback, c.Size, p.Size)
		}
		if err := Detect(prev, signed, w.Log, proof); err != nil {
			return nil, fmt.Errorf("cosign: %w", err)
		}
	}
	out := &note.Note{Text: n.Text}
	for _, s := range append(n.Sigs, n.UnverifiedSigs...) {
		if s.Hash == w.Signer.KeyHash() && s.Name == w.Signer.Name() {
			continue // replaced by the new cosignature
		}
		out.Sigs = append(out.Sigs, s)
	}
	b, err := note.Sign(out, w.Signer)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	return b, nil
}

// OpenCosigned verifies a checkpoint signed by the log and returns it with
// the names of the witnesses, among those given, whose cosignatures verify.
// A cosignature by a listed witness that does not verify is an error.
func OpenCosigned(signed []byte, log note.Verifier, witnesses ...note.Verifier) (Checkpoint, []string, error) {
	c, _, err := OpenCheckpoint(signed, log)
	if err != nil {
		return Checkpoint{}, nil, err
	}
	n, err := note.Open(signed, note.VerifierList(append([]note.Verifier{log}, witnesses...)...))
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	var names []string
	for _, s := range n.Sigs {
		if s.Name == log.Name() && s.Hash == log.KeyHash() {
			continue
		}
		names = append(names, s.Name)
	}
	return c, names, nil
}

func decodeSig(b64 string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(b64)
}
