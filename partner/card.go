// Package partner owns the trust between nodes: partner cards (the signed
// statement of who a node is, which keys it holds and where it listens),
// the pinned partners a node keeps in its directory, and the mutual TLS
// configs that admit only pinned partners.
//
// It is a package of its own, not part of node, because it speaks about
// other nodes: node owns this node's directory and keys and knows nothing of
// partners; this package reads a node (its keys, its TLS certificate) to
// make its card, and its partners/ directory to pin theirs.
//
// # Partner card format
//
// A card file is one JSON object with two members:
//
//	{
//	  "card": {
//	    "format": "tearline-partner-card/1",
//	    "partner": "GBR",
//	    "name": "UK National Liaison Office",
//	    "endpoints": ["https://tearline.gbr.example:8443"],
//	    "signing_key": {"id": "9f86d081884c7d65", "algorithm": "ed25519",
//	      "public_key": "<base64>", "not_before": "2026-01-02T15:04:05Z",
//	      "not_after": "2028-01-02T15:04:05Z"},
//	    "hpke_key": {"id": "...", "algorithm": "hpke-mlkem768-x25519", ...},
//	    "retired_signing_keys": [{... as signing_key, "retired": "<time>"}],
//	    "revoked_keys": [{"kind": "signing", "id": "...", "revoked": "<time>"}],
//	    "tls_certificate_sha256": "<64 lowercase hex digits>",
//	    "issued": "2026-01-02T15:04:05Z"
//	  },
//	  "signatures": [{"key_id": "9f86d081884c7d65", "algorithm": "ed25519",
//	    "signature": "<base64>"}]
//	}
//
// Base64 is standard, padded (RFC 4648 section 4); times are RFC 3339, UTC,
// to the second; key ids are node.KeyID of the public key. Every member is
// required (arrays may be empty, never null); an unknown member, a duplicate
// member, or any other spelling of the same content is refused.
//
// The canonical bytes of a card are the RFC 8785 (JSON Canonicalization
// Scheme) form of the "card" member, as stix.Canonicalize computes it. The
// card's fingerprint is the SHA-256 of those bytes (Fingerprint); each
// signature is Ed25519 over "tearline-partner-card/1", a zero byte, then the
// canonical bytes. A card MUST carry a signature by its own signing_key
// (proof that its issuer holds it); when the node rotated its signing key it
// also carries one by the previous key, which is how partners that pinned
// the previous key accept the new one without comparing fingerprints again.
package partner

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/stix"
)

// Format is the value of a card's "format" member.
const Format = "tearline-partner-card/1"

// signContext prefixes the canonical bytes in every card signature, so that
// a card signature can never be taken for a signature over anything else.
const signContext = Format + "\x00"

// Limits the parser enforces.
const (
	MaxCardSize    = 64 << 10
	maxEndpoints   = 16
	maxRetired     = 64
	maxRevoked     = 256
	maxSignatures  = 4
	maxNameLen     = 200
	maxEndpointLen = 512
)

// Algorithms a card may name.
const (
	AlgEd25519 = "ed25519"
	AlgHPKE    = "hpke-mlkem768-x25519"
)

var hpkeKEM = hpke.MLKEM768X25519()

var (
	// ErrMalformed is wrapped by every error Parse returns for a card that
	// is not well formed.
	ErrMalformed = errors.New("malformed partner card")
	// ErrBadSignature: a signature on the card does not verify, or the card
	// is not signed by its own signing key.
	ErrBadSignature = errors.New("partner card signature does not verify")
)

// Key is a public key on a card, with its validity period.
type Key struct {
	ID        string
	Algorithm string // AlgEd25519 or AlgHPKE
	Public    []byte // Ed25519 public key, or HPKE SerializePublicKey bytes
	// NotBefore and NotAfter bound the validity period: [NotBefore,
	// NotAfter).
	NotBefore, NotAfter time.Time
	// Retired is when a retired key stopped being current; zero for a
	// current key.
	Retired time.Time
}

// ValidAt reports whether the key may have been used at t: within its
// validity period and before it was retired.
func (k Key) ValidAt(t time.Time) bool {
	end := k.NotAfter
	if !k.Retired.IsZero() && k.Retired.Before(end) {
		end = k.Retired
	}
	return !t.Before(k.NotBefore) && t.Before(end)
}

// RevokedKey is a key the node revoked.
type RevokedKey struct {
	Kind    string // "signing" or "hpke"
	ID      string
	Revoked time.Time
}

// Signature is one signature on a card.
type Signature struct {
	KeyID     string
	Signature []byte
}

// Card is a partner card: what a node says about itself.
type Card struct {
	Partner   string
	Name      string
	Endpoints []string
	// SigningKey verifies what the node signs now; HPKEKey is what to seal
	// to it.
	SigningKey, HPKEKey Key
	// RetiredSigningKeys verify what the node signed before it rotated.
	RetiredSigningKeys []Key
	RevokedKeys        []RevokedKey
	// TLSCertificateSHA256 is node.CertificateFingerprint of the node's TLS
	// certificate.
	TLSCertificateSHA256 string
	Issued               time.Time

	// Signatures are set by Parse and Sign.
	Signatures []Signature
}

// Fingerprint is the SHA-256 of a card's canonical bytes: what operators
// compare out of band before pinning a card.
type Fingerprint [32]byte

// String returns the fingerprint as "SHA256:" and 16 groups of four hex
// digits separated by colons, easy to read aloud.
func (f Fingerprint) String() string {
	h := hex.EncodeToString(f[:])
	var b strings.Builder
	b.WriteString("SHA256:")
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// ParseFingerprint reads a fingerprint as String writes it, leniently: the
// "SHA256:" prefix is optional, case does not matter, and colons, dashes and
// spaces between digits are ignored. All 64 hex digits are required: a
// shortened fingerprint is refused.
func ParseFingerprint(s string) (Fingerprint, error) {
	var f Fingerprint
	t := strings.TrimSpace(s)
	if len(t) >= 6 && strings.EqualFold(t[:6], "sha256") {
		t = t[6:]
	}
	t = strings.Map(func(r rune) rune {
		if r == ':' || r == '-' || r == ' ' {
			return -1
		}
		return unicode.ToLower(r)
	}, t)
	if len(t) != 64 {
		return f, fmt.Errorf("fingerprint %q has %d digits; want all 64, as `tearline partner card` prints them", s, len(t))
	}
	if _, err := hex.Decode(f[:], []byte(t)); err != nil {
		return f, fmt.Errorf("fingerprint %q is not hex: %w", s, err)
	}
	return f, nil
}

// The wire form, field for field.
type cardFile struct {
	Card       json.RawMessage `json:"card"`
	Signatures []sigJSON       `json:"signatures"`
}

type sigJSON struct {
	KeyID     string `json:"key_id"`
	Algorithm string `json:"algorithm"`
	Signature string `json:"signature"`
}

type bodyJSON struct {
	Format               string           `json:"format"`
	Partner              string           `json:"partner"`
	Name                 string           `json:"name"`
	Endpoints            []string         `json:"endpoints"`
	SigningKey           keyJSON          `json:"signing_key"`
	HPKEKey              keyJSON          `json:"hpke_key"`
	RetiredSigningKeys   []retiredKeyJSON `json:"retired_signing_keys"`
	RevokedKeys          []revokedJSON    `json:"revoked_keys"`
	TLSCertificateSHA256 string           `json:"tls_certificate_sha256"`
	Issued               string           `json:"issued"`
}

type keyJSON struct {
	ID        string `json:"id"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"`
	NotBefore string `json:"not_before"`
	NotAfter  string `json:"not_after"`
}

type retiredKeyJSON struct {
	ID        string `json:"id"`
	Algorithm string `json:"algorithm"`
	PublicKey string `json:"public_key"`
	NotBefore string `json:"not_before"`
	NotAfter  string `json:"not_after"`
	Retired   string `json:"retired"`
}

type revokedJSON struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Revoked string `json:"revoked"`
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func keyToJSON(k Key) keyJSON {
	return keyJSON{ID: k.ID, Algorithm: k.Algorithm, PublicKey: base64.StdEncoding.EncodeToString(k.Public),
		NotBefore: formatTime(k.NotBefore), NotAfter: formatTime(k.NotAfter)}
}

func (c *Card) body() bodyJSON {
	b := bodyJSON{
		Format: Format, Partner: c.Partner, Name: c.Name,
		Endpoints:            append([]string{}, c.Endpoints...),
		SigningKey:           keyToJSON(c.SigningKey),
		HPKEKey:              keyToJSON(c.HPKEKey),
		RetiredSigningKeys:   []retiredKeyJSON{},
		RevokedKeys:          []revokedJSON{},
		TLSCertificateSHA256: c.TLSCertificateSHA256,
		Issued:               formatTime(c.Issued),
	}
	for _, k := range c.RetiredSigningKeys {
		j := keyToJSON(k)
		b.RetiredSigningKeys = append(b.RetiredSigningKeys, retiredKeyJSON{j.ID, j.Algorithm, j.PublicKey, j.NotBefore, j.NotAfter, formatTime(k.Retired)})
	}
	for _, r := range c.RevokedKeys {
		b.RevokedKeys = append(b.RevokedKeys, revokedJSON{r.Kind, r.ID, formatTime(r.Revoked)})
	}
	return b
}

// Canonical returns the card's canonical bytes: the RFC 8785 form of its
// "card" member.
func (c *Card) Canonical() ([]byte, error) {
	raw, err := json.Marshal(c.body())
	if err != nil {
		return nil, err
	}
	return stix.Canonicalize(raw)
}

// Fingerprint returns the SHA-256 of the card's canonical bytes.
func (c *Card) Fingerprint() (Fingerprint, error) {
	canon, err := c.Canonical()
	if err != nil {
		return Fingerprint{}, err
	}
	return sha256.Sum256(canon), nil
}

// Signer is a key that signs a card.
type Signer struct {
	KeyID string
	Key   ed25519.PrivateKey
}

// Sign validates c, signs it with each signer in turn and returns the card
// file. The first signer MUST be the card's own signing key; the others
// (the previous signing key, after a rotation) endorse it.
func Sign(c *Card, signers ...Signer) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("sign partner card: %w", err)
	}
	if len(signers) == 0 || signers[0].KeyID != c.SigningKey.ID ||
		!bytes.Equal(signers[0].Key.Public().(ed25519.PublicKey), c.SigningKey.Public) {
		return nil, errors.New("sign partner card: the first signer must be the card's own signing key")
	}
	if len(signers) > maxSignatures {
		return nil, fmt.Errorf("sign partner card: %d signers; at most %d", len(signers), maxSignatures)
	}
	canon, err := c.Canonical()
	if err != nil {
		return nil, fmt.Errorf("sign partner card: %w", err)
	}
	msg := append([]byte(signContext), canon...)
	f := cardFile{Card: canon}
	c.Signatures = nil
	for _, s := range signers {
		if node.KeyID(s.Key.Public().(ed25519.PublicKey)) != s.KeyID {
			return nil, fmt.Errorf("sign partner card: signer key id %s does not match its key", s.KeyID)
		}
		sig := ed25519.Sign(s.Key, msg)
		c.Signatures = append(c.Signatures, Signature{s.KeyID, sig})
		f.Signatures = append(f.Signatures, sigJSON{s.KeyID, AlgEd25519, base64.StdEncoding.EncodeToString(sig)})
	}
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// SignedBy reports whether the card carries a valid signature by the
// Ed25519 key pub with the given id.
func (c *Card) SignedBy(keyID string, pub ed25519.PublicKey) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	canon, err := c.Canonical()
	if err != nil {
		return false
	}
	msg := append([]byte(signContext), canon...)
	for _, s := range c.Signatures {
		if s.KeyID == keyID && ed25519.Verify(pub, msg, s.Signature) {
			return true
		}
	}
	return false
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Parse reads a card file strictly (see the package doc), validates every
// field and checks that the card is signed by its own signing key. It
// fails closed: an unknown member, algorithm or format, a key whose id does
// not match, a duplicate member or an extra signature that does not verify
// is an error wrapping ErrMalformed or ErrBadSignature.
//
// Parse says nothing about whether the card should be trusted: that is
// pinning's job (Store.Add).
func Parse(data []byte) (*Card, error) {
	if len(data) > MaxCardSize {
		return nil, malformed("larger than %d bytes", MaxCardSize)
	}
	// The strict parser refuses duplicate members, invalid UTF-8 and lone
	// surrogates, which encoding/json would let through.
	if _, err := stix.ParseJSON(data); err != nil {
		return nil, malformed("%v", err)
	}
	var f cardFile
	if err := decodeStrict(data, &f); err != nil {
		return nil, malformed("%v", err)
	}
	if f.Card == nil {
		return nil, malformed(`missing "card"`)
	}
	var b bodyJSON
	if err := decodeStrict(f.Card, &b); err != nil {
		return nil, malformed("card: %v", err)
	}
	c, err := fromBody(b)
	if err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	// One spelling only: what was signed must be what this package would
	// write for the fields it read (no case-folded member names, no null
	// for an array).
	canon, err := stix.Canonicalize(f.Card)
	if err != nil {
		return nil, malformed("card: %v", err)
	}
	mine, err := c.Canonical()
	if err != nil {
		return nil, malformed("card: %v", err)
	}
	if !bytes.Equal(canon, mine) {
		return nil, malformed("card: not in the one accepted spelling (member names are lowercase, arrays are never null, times are UTC to the second)")
	}

	if len(f.Signatures) == 0 || len(f.Signatures) > maxSignatures {
		return nil, malformed("%d signatures; want 1 to %d", len(f.Signatures), maxSignatures)
	}
	msg := append([]byte(signContext), canon...)
	known := map[string]ed25519.PublicKey{c.SigningKey.ID: c.SigningKey.Public}
	for _, k := range c.RetiredSigningKeys {
		known[k.ID] = k.Public
	}
	seen := map[string]bool{}
	for i, s := range f.Signatures {
		if s.Algorithm != AlgEd25519 {
			return nil, malformed("signature %d: unknown algorithm %q; want %q", i, s.Algorithm, AlgEd25519)
		}
		if seen[s.KeyID] {
			return nil, malformed("signature %d: a second signature by key %s", i, s.KeyID)
		}
		seen[s.KeyID] = true
		sig, err := decodeBase64(s.Signature)
		if err != nil || len(sig) != ed25519.SignatureSize {
			return nil, malformed("signature %d: want %d bytes of base64", i, ed25519.SignatureSize)
		}
		c.Signatures = append(c.Signatures, Signature{s.KeyID, sig})
		// A signature by a key the card does not list (the previous key,
		// after a rotation) is checked by whoever pinned that key.
		if pub, ok := known[s.KeyID]; ok && !ed25519.Verify(pub, msg, sig) {
			return nil, fmt.Errorf("%w: signature %d, by key %s", ErrBadSignature, i, s.KeyID)
		}
	}
	if !seen[c.SigningKey.ID] {
		return nil, fmt.Errorf("%w: the card is not signed by its own signing key %s", ErrBadSignature, c.SigningKey.ID)
	}
	return c, nil
}

func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

func decodeBase64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, err
	}
	return b, nil
}

func parseTime(field, s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil || formatTime(t) != s {
		return time.Time{}, malformed("%s %q is not an RFC 3339 UTC time to the second", field, s)
	}
	return t.UTC(), nil
}

func keyFromJSON(field string, j keyJSON) (Key, error) {
	k := Key{ID: j.ID, Algorithm: j.Algorithm}
	var err error
	if k.Public, err = decodeBase64(j.PublicKey); err != nil {
		return k, malformed("%s.public_key: %v", field, err)
	}
	if k.NotBefore, err = parseTime(field+".not_before", j.NotBefore); err != nil {
		return k, err
	}
	if k.NotAfter, err = parseTime(field+".not_after", j.NotAfter); err != nil {
		return k, err
	}
	return k, nil
}

func fromBody(b bodyJSON) (*Card, error) {
	if b.Format != Format {
		return nil, malformed("format %q; this tearline reads %q", b.Format, Format)
	}
	c := &Card{Partner: b.Partner, Name: b.Name, Endpoints: b.Endpoints, TLSCertificateSHA256: b.TLSCertificateSHA256}
	var err error
	if c.SigningKey, err = keyFromJSON("signing_key", b.SigningKey); err != nil {
		return nil, err
	}
	if c.HPKEKey, err = keyFromJSON("hpke_key", b.HPKEKey); err != nil {
		return nil, err
	}
	if len(b.RetiredSigningKeys) > maxRetired || len(b.RevokedKeys) > maxRevoked {
		return nil, malformed("too many retired or revoked keys")
	}
	for i, r := range b.RetiredSigningKeys {
		field := fmt.Sprintf("retired_signing_keys[%d]", i)
		k, err := keyFromJSON(field, keyJSON{r.ID, r.Algorithm, r.PublicKey, r.NotBefore, r.NotAfter})
		if err != nil {
			return nil, err
		}
		if k.Retired, err = parseTime(field+".retired", r.Retired); err != nil {
			return nil, err
		}
		c.RetiredSigningKeys = append(c.RetiredSigningKeys, k)
	}
	for i, r := range b.RevokedKeys {
		t, err := parseTime(fmt.Sprintf("revoked_keys[%d].revoked", i), r.Revoked)
		if err != nil {
			return nil, err
		}
		c.RevokedKeys = append(c.RevokedKeys, RevokedKey{r.Kind, r.ID, t})
	}
	if c.Issued, err = parseTime("issued", b.Issued); err != nil {
		return nil, err
	}
	return c, nil
}

var partnerCode = regexp.MustCompile(`^[A-Z0-9]{3,10}$`)
var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// validate checks every field of c.
func (c *Card) validate() error {
	if !partnerCode.MatchString(c.Partner) {
		return malformed("partner %q: want 3 to 10 uppercase letters or digits", c.Partner)
	}
	if err := checkText("name", c.Name, maxNameLen); err != nil || strings.TrimSpace(c.Name) == "" {
		return malformed("name %q: want one line of printable text, 1 to %d bytes", c.Name, maxNameLen)
	}
	if len(c.Endpoints) > maxEndpoints {
		return malformed("endpoints: want a list of at most %d", maxEndpoints)
	}
	for i, e := range c.Endpoints {
		if err := CheckEndpoint(e); err != nil {
			return malformed("endpoints[%d]: %v", i, err)
		}
	}
	if err := checkKey("signing_key", c.SigningKey, AlgEd25519); err != nil {
		return err
	}
	if err := checkKey("hpke_key", c.HPKEKey, AlgHPKE); err != nil {
		return err
	}
	ids := map[string]bool{c.SigningKey.ID: true, c.HPKEKey.ID: true}
	for i, k := range c.RetiredSigningKeys {
		field := fmt.Sprintf("retired_signing_keys[%d]", i)
		if err := checkKey(field, k, AlgEd25519); err != nil {
			return err
		}
		if ids[k.ID] {
			return malformed("%s: key %s is listed twice", field, k.ID)
		}
		ids[k.ID] = true
	}
	revoked := map[string]bool{}
	for i, r := range c.RevokedKeys {
		if r.Kind != "signing" && r.Kind != "hpke" {
			return malformed("revoked_keys[%d].kind %q: want signing or hpke", i, r.Kind)
		}
		if !keyIDPattern.MatchString(r.ID) || revoked[r.ID] {
			return malformed("revoked_keys[%d].id %q: want a key id listed once", i, r.ID)
		}
		if r.ID == c.SigningKey.ID || r.ID == c.HPKEKey.ID {
			return malformed("revoked_keys[%d]: key %s is revoked and current at once", i, r.ID)
		}
		revoked[r.ID] = true
	}
	if !hexSHA256.MatchString(c.TLSCertificateSHA256) {
		return malformed("tls_certificate_sha256 %q: want 64 lowercase hex digits", c.TLSCertificateSHA256)
	}
	return nil
}

var keyIDPattern = regexp.MustCompile(`^[0-9a-f]{16}$`)

func checkKey(field string, k Key, alg string) error {
	if k.Algorithm != alg {
		return malformed("%s.algorithm %q: want %q", field, k.Algorithm, alg)
	}
	switch alg {
	case AlgEd25519:
		if len(k.Public) != ed25519.PublicKeySize {
			return malformed("%s.public_key: %d bytes; want %d", field, len(k.Public), ed25519.PublicKeySize)
		}
	case AlgHPKE:
		if _, err := hpkeKEM.NewPublicKey(k.Public); err != nil {
			return malformed("%s.public_key: %v", field, err)
		}
	}
	if id := node.KeyID(k.Public); k.ID != id {
		return malformed("%s.id %q does not match the key (its id is %s)", field, k.ID, id)
	}
	if !k.NotBefore.Before(k.NotAfter) {
		return malformed("%s: not_after is not after not_before", field)
	}
	return nil
}

func checkText(field, s string, max int) error {
	if len(s) > max || !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool {
		return unicode.IsControl(r) || r == '\u2028' || r == '\u2029'
	}) >= 0 {
		return fmt.Errorf("%s: want one line of printable text of at most %d bytes", field, max)
	}
	return nil
}

// CheckEndpoint checks a node endpoint: an absolute https URL with a host
// and nothing secret or ambiguous in it. Node-to-node traffic is never
// plain HTTP.
func CheckEndpoint(e string) error {
	if err := checkText("endpoint", e, maxEndpointLen); err != nil {
		return err
	}
	u, err := url.Parse(e)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %w", e, err)
	}
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("%q: want an https:// URL; node-to-node traffic is never plain HTTP", e)
	case u.Host == "" || u.Hostname() == "":
		return fmt.Errorf("%q: no host", e)
	case u.User != nil:
		return fmt.Errorf("%q: user information does not belong in an endpoint", e)
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return fmt.Errorf("%q: no query or fragment, please", e)
	}
	return nil
}
