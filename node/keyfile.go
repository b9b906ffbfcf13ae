package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// The key file format is described in the package doc.
const (
	privateKeyType = "TEARLINE PRIVATE KEY"
	publicKeyType  = "TEARLINE PUBLIC KEY"

	algEd25519 = "ed25519"
	algHPKE    = "hpke-mlkem768-x25519"

	headerAlgorithm = "Algorithm"
	headerCreated   = "Created"
	headerKeyID     = "Key-Id"

	// maxKeyFile bounds what is read from a key file; the largest valid one
	// (an HPKE public key) is under 2 KiB.
	maxKeyFile = 64 << 10
)

// hpkeKEM is the KEM of the node's encryption key, as DESIGN.md decides.
var hpkeKEM = hpke.MLKEM768X25519()

// hpkeSeedSize is the length of a serialised MLKEM768-X25519 private key.
const hpkeSeedSize = 32

// KeyID returns the identifier Tearline gives a public key: the first 16
// hex digits of the SHA-256 of its bytes (for HPKE keys, the bytes of
// SerializePublicKey).
func KeyID(publicKey []byte) string {
	sum := sha256.Sum256(publicKey)
	return hex.EncodeToString(sum[:8])
}

// keyMaterial is one parsed key file. Exactly one of the ed25519 or hpke
// pairs is set, according to algorithm; for a public key file the private
// half is nil.
type keyMaterial struct {
	algorithm string
	private   bool
	encrypted bool // read from a passphrase-encrypted file
	created   time.Time
	id        string

	edPriv ed25519.PrivateKey
	edPub  ed25519.PublicKey

	hpkePriv hpke.PrivateKey
	hpkePub  hpke.PublicKey
}

func newEd25519Key(priv ed25519.PrivateKey, created time.Time) *keyMaterial {
	pub := priv.Public().(ed25519.PublicKey)
	return &keyMaterial{
		algorithm: algEd25519, private: true, created: created,
		id: KeyID(pub), edPriv: priv, edPub: pub,
	}
}

func newHPKEKey(priv hpke.PrivateKey, created time.Time) *keyMaterial {
	pub := priv.PublicKey()
	return &keyMaterial{
		algorithm: algHPKE, private: true, created: created,
		id: KeyID(pub.Bytes()), hpkePriv: priv, hpkePub: pub,
	}
}

// public returns the public half of k.
func (k *keyMaterial) public() *keyMaterial {
	p := *k
	p.private, p.edPriv, p.hpkePriv = false, nil, nil
	return &p
}

func (k *keyMaterial) publicBytes() []byte {
	if k.algorithm == algEd25519 {
		return k.edPub
	}
	return k.hpkePub.Bytes()
}

// encode returns k in the key file format.
func (k *keyMaterial) encode() ([]byte, error) {
	b := &pem.Block{
		Type: publicKeyType,
		Headers: map[string]string{
			headerAlgorithm: k.algorithm,
			headerCreated:   k.created.UTC().Format(time.RFC3339),
			headerKeyID:     k.id,
		},
		Bytes: k.publicBytes(),
	}
	if k.private {
		b.Type = privateKeyType
		switch k.algorithm {
		case algEd25519:
			b.Bytes = k.edPriv.Seed()
		case algHPKE:
			seed, err := k.hpkePriv.Bytes()
			if err != nil {
				return nil, fmt.Errorf("serialise hpke private key: %w", err)
			}
			b.Bytes = seed
		}
	}
	return pem.EncodeToMemory(b), nil
}

// parseKeyFile parses the contents of a key file, private or public.
func parseKeyFile(data []byte) (*keyMaterial, error) {
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("not a Tearline key file: larger than %d bytes", maxKeyFile)
	}
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN ")) {
		return nil, errors.New("not a Tearline key file: it does not start with a -----BEGIN line")
	}
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("not a Tearline key file: no complete PEM block (truncated, or damaged base64)")
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, errors.New("unexpected text after the END line")
	}
	k := &keyMaterial{}
	switch block.Type {
	case privateKeyType:
		k.private = true
	case publicKeyType:
	default:
		return nil, fmt.Errorf("unknown block type %q; want %q or %q", block.Type, privateKeyType, publicKeyType)
	}
	for name := range block.Headers {
		switch name {
		case headerAlgorithm, headerCreated, headerKeyID:
		default:
			return nil, fmt.Errorf("unknown header %q", name)
		}
	}
	k.algorithm = block.Headers[headerAlgorithm]
	created := block.Headers[headerCreated]
	wantID := block.Headers[headerKeyID]
	if k.algorithm == "" {
		return nil, fmt.Errorf("missing %s header", headerAlgorithm)
	}
	if created == "" {
		return nil, fmt.Errorf("missing %s header", headerCreated)
	}
	if wantID == "" {
		return nil, fmt.Errorf("missing %s header", headerKeyID)
	}
	// Only the form encode writes is accepted, so that a key file has one
	// spelling.
	t, err := time.Parse(time.RFC3339, created)
	if err != nil || t.UTC().Format(time.RFC3339) != created {
		return nil, fmt.Errorf("%s header %q is not an RFC 3339 UTC time to the second, such as 2026-01-02T15:04:05Z", headerCreated, created)
	}
	k.created = t

	switch {
	case k.algorithm == algEd25519 && k.private:
		if len(block.Bytes) != ed25519.SeedSize {
			return nil, fmt.Errorf("ed25519 private key is %d bytes; want %d", len(block.Bytes), ed25519.SeedSize)
		}
		k.edPriv = ed25519.NewKeyFromSeed(block.Bytes)
		k.edPub = k.edPriv.Public().(ed25519.PublicKey)
	case k.algorithm == algEd25519:
		if len(block.Bytes) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("ed25519 public key is %d bytes; want %d", len(block.Bytes), ed25519.PublicKeySize)
		}
		k.edPub = ed25519.PublicKey(bytes.Clone(block.Bytes))
	case k.algorithm == algHPKE && k.private:
		if len(block.Bytes) != hpkeSeedSize {
			return nil, fmt.Errorf("%s private key is %d bytes; want %d", algHPKE, len(block.Bytes), hpkeSeedSize)
		}
		k.hpkePriv, err = hpkeKEM.NewPrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s private key: %w", algHPKE, err)
		}
		k.hpkePub = k.hpkePriv.PublicKey()
	case k.algorithm == algHPKE:
		k.hpkePub, err = hpkeKEM.NewPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s public key: %w", algHPKE, err)
		}
	default:
		return nil, fmt.Errorf("unknown algorithm %q; want %q or %q", k.algorithm, algEd25519, algHPKE)
	}

	k.id = KeyID(k.publicBytes())
	if wantID != k.id {
		return nil, fmt.Errorf("%s header says %s but the key's id is %s; the file is damaged or was edited", headerKeyID, wantID, k.id)
	}
	return k, nil
}

// publicKeyPath is where the public half of the private key at path lives:
// beside it, with .pub in place of .key.
func publicKeyPath(path string) string {
	return strings.TrimSuffix(path, ".key") + ".pub"
}

// checkPrivate reports whether the permission bits let anyone but the
// owner at a private key. Windows reports synthetic bits that say nothing
// about its ACLs, so the check cannot be made there and fails closed.
func checkPrivate(fi fs.FileInfo, path string) error {
	if runtime.GOOS == "windows" {
		return fmt.Errorf("%w: cannot verify who may read %s on windows; run the node on Linux or another Unix system",
			ErrInsecurePermissions, path)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	if fi.IsDir() {
		return fmt.Errorf("%w: keys directory %s has mode %04o, open to group or others; run `chmod 700 %s`",
			ErrInsecurePermissions, path, perm, path)
	}
	return fmt.Errorf("%w: private key file %s has mode %04o, readable or writable by group or others; run `chmod 600 %s`",
		ErrInsecurePermissions, path, perm, path)
}

// readKeyFile reads and parses the key file at path, of the given
// algorithm. A private key file, and the directory that holds it, must be
// closed to group and others. An encrypted private key file is refused
// with ErrPassphraseRequired; see readSecretKeyFile.
func readKeyFile(path, algorithm string, private bool) (*keyMaterial, error) {
	return readSecretKeyFile(path, algorithm, private, nil)
}

// readSecretKeyFile is readKeyFile that opens a passphrase-encrypted
// private key file with the passphrase from pass.
func readSecretKeyFile(path, algorithm string, private bool, pass passSource) (*keyMaterial, error) {
	data, err := readNodeFile(path, private, maxKeyFile)
	if err != nil {
		return nil, err
	}
	encrypted := false
	if private && isEncrypted(data) {
		plain, err := decryptKeyFile(data, pass)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer clear(plain)
		data, encrypted = plain, true
	}
	k, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	k.encrypted = encrypted
	if k.private != private {
		return nil, fmt.Errorf("%s: holds a %s key; want a %s key", path, kind(k.private), kind(private))
	}
	if k.algorithm != algorithm {
		return nil, fmt.Errorf("%s: holds an %s key; want %s", path, k.algorithm, algorithm)
	}
	return k, nil
}

// readNodeFile reads a regular file of at most limit bytes. For a private
// file, the file and the directory that holds it must be closed to group
// and others.
func readNodeFile(path string, private bool, limit int64) ([]byte, error) {
	if private {
		dir := filepath.Dir(path)
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("keys directory: %w", err)
		}
		if err := checkPrivate(fi, dir); err != nil {
			return nil, err
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if private {
		if err := checkPrivate(fi, path); err != nil {
			return nil, err
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, nil
}

func kind(private bool) string {
	if private {
		return "private"
	}
	return "public"
}

// loadKeyPair reads the private key at path and the public key beside it,
// and checks that they are halves of one pair: partners pin the public
// file, so a mismatch would have them encrypt or verify against a key this
// node does not hold.
func loadKeyPair(path, algorithm string, pass passSource) (*keyMaterial, error) {
	priv, err := readSecretKeyFile(path, algorithm, true, pass)
	if err != nil {
		return nil, err
	}
	pubPath := publicKeyPath(path)
	pub, err := readKeyFile(pubPath, algorithm, false)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(pub.publicBytes(), priv.publicBytes()) {
		return nil, fmt.Errorf("public key %s (key id %s) is not the public half of %s (key id %s); restore the matching pair",
			pubPath, pub.id, path, priv.id)
	}
	return priv, nil
}

// writeNew writes data to path, which must not exist, with the given
// permissions. The data goes to a temporary file (created with O_EXCL) that
// is synced and then linked into place, so after a crash path either does
// not exist or holds all of data; link, unlike rename, never replaces an
// existing file.
func writeNew(path string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmpName := tmp.Name()
	defer func() {
		if tmp != nil {
			tmp.Close()
		}
		if rmErr := os.Remove(tmpName); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("write %s: remove temporary file: %w", path, rmErr)
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = tmp.Close()
	tmp = nil
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s already exists; refusing to overwrite it: %w", path, ErrInitialised)
		}
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// syncDir makes the entries just created in dir durable. Windows cannot
// sync a directory handle and does not need to.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
