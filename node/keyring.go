package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The key lifecycle.
//
// Every key the node has had is listed in the keyring, keys/keyring.json
// (beside the signing key; mode 0644, it holds no secret), with its id, its
// validity period and its status:
//
//	current  the key in use: keys/signing.key or keys/hpke.key;
//	retired  replaced by RotateKey; its files moved to keys/archive/ as
//	         <kind>-<id>.key and <kind>-<id>.pub. A retired signing key
//	         still verifies what it signed while it was current, and signs
//	         one thing only: the partner card that announces its successor
//	         (see PreviousSigningKey). A retired HPKE key still opens what
//	         partners sealed to it before they learned of its successor;
//	revoked  recorded by RevokeKey. It neither signs nor opens anything:
//	         lookups return an error wrapping ErrKeyRevoked.
//
// A node without a keyring (made before it existed, or never rotated) has
// its two current keys, valid for DefaultKeyValidity from their Created
// time. The keyring file is:
//
//	{"version":1,"keys":[{"kind":"signing","id":"9f86d081884c7d65",
//	  "algorithm":"ed25519","created":"2026-01-02T15:04:05Z",
//	  "not_after":"2028-01-02T15:04:05Z","status":"retired",
//	  "retired":"2026-06-01T00:00:00Z"}, ...]}

// KeyringFile is the name of the keyring, in the directory of the signing
// key.
const KeyringFile = "keyring.json"

// ArchiveDir is where retired and revoked key files go, under the directory
// of the signing key.
const ArchiveDir = "archive"

// DefaultKeyValidity is how long a new key is valid for.
const DefaultKeyValidity = 2 * 365 * 24 * time.Hour

// KeyKind says what a key is for.
type KeyKind string

// Key kinds.
const (
	KindSigning KeyKind = "signing" // Ed25519
	KindHPKE    KeyKind = "hpke"    // HPKE MLKEM768-X25519
)

// KeyStatus is where a key is in its lifecycle.
type KeyStatus string

// Key statuses.
const (
	StatusCurrent KeyStatus = "current"
	StatusRetired KeyStatus = "retired"
	StatusRevoked KeyStatus = "revoked"
)

var (
	// ErrUnknownKey is returned (wrapped) for a key id the node never had.
	ErrUnknownKey = errors.New("unknown key")
	// ErrKeyRevoked is returned (wrapped) for a revoked key. Callers MUST
	// refuse to verify, sign or open anything new with it.
	ErrKeyRevoked = errors.New("key revoked")
	// ErrKeyExpired is returned (wrapped) when the current key is past its
	// validity period: rotate it.
	ErrKeyExpired = errors.New("key expired")
)

// KeyInfo describes one key of the node: public half, validity and status.
type KeyInfo struct {
	Kind      KeyKind
	ID        string // KeyID of the public key
	Algorithm string // "ed25519" or "hpke-mlkem768-x25519"
	// Created and NotAfter bound the validity period: [Created, NotAfter).
	Created, NotAfter time.Time
	Status            KeyStatus
	// Retired is when the key stopped being current; zero while it is.
	Retired time.Time
	// Revoked is when the key was revoked, and Reason why; zero and "" if
	// it was not.
	Revoked time.Time
	Reason  string

	// Signing is the public key of a KindSigning key, HPKE that of a
	// KindHPKE key.
	Signing ed25519.PublicKey
	HPKE    hpke.PublicKey
}

// PublicBytes returns the key's public bytes: the Ed25519 public key, or
// the HPKE public key's serialisation.
func (k KeyInfo) PublicBytes() []byte {
	if k.Kind == KindSigning {
		return bytes.Clone(k.Signing)
	}
	return k.HPKE.Bytes()
}

// UsableUntil is when the key stopped (or will stop) being usable for new
// material: the earliest of NotAfter, Retired and Revoked that is set.
func (k KeyInfo) UsableUntil() time.Time {
	t := k.NotAfter
	for _, s := range []time.Time{k.Retired, k.Revoked} {
		if !s.IsZero() && s.Before(t) {
			t = s
		}
	}
	return t
}

// ValidAt reports whether t is within the key's validity period, before it
// was retired or revoked: whether the key may have made a signature at t.
func (k KeyInfo) ValidAt(t time.Time) bool {
	return !t.Before(k.Created) && t.Before(k.UsableUntil())
}

type keyringJSON struct {
	Version int              `json:"version"`
	Keys    []keyringEntryJS `json:"keys"`
}

type keyringEntryJS struct {
	Kind      KeyKind    `json:"kind"`
	ID        string     `json:"id"`
	Algorithm string     `json:"algorithm"`
	Created   time.Time  `json:"created"`
	NotAfter  time.Time  `json:"not_after"`
	Status    KeyStatus  `json:"status"`
	Retired   *time.Time `json:"retired,omitempty"`
	Revoked   *time.Time `json:"revoked,omitempty"`
	Reason    string     `json:"reason,omitempty"`
}

const maxKeyringFile = 1 << 20

func (n *Node) keysDir() string     { return filepath.Dir(n.path(n.Config.Keys.Signing)) }
func (n *Node) keyringPath() string { return filepath.Join(n.keysDir(), KeyringFile) }
func (n *Node) archivePath(kind KeyKind, id, ext string) string {
	return filepath.Join(n.keysDir(), ArchiveDir, string(kind)+"-"+id+ext)
}

func algorithmOf(kind KeyKind) string {
	if kind == KindSigning {
		return algEd25519
	}
	return algHPKE
}

func infoOf(kind KeyKind, k *keyMaterial) KeyInfo {
	return KeyInfo{
		Kind: kind, ID: k.id, Algorithm: k.algorithm,
		Created: k.created, NotAfter: k.created.Add(DefaultKeyValidity),
		Status: StatusCurrent, Signing: k.edPub, HPKE: k.hpkePub,
	}
}

// loadKeyring reads the keyring, or makes the implicit one of a node that
// has none, and checks it against the current keys sk and hk.
func (n *Node) loadKeyring(sk, hk *keyMaterial) error {
	path := n.keyringPath()
	data, err := readNodeFile(path, false, maxKeyringFile)
	if errors.Is(err, fs.ErrNotExist) {
		n.keys = []KeyInfo{infoOf(KindSigning, sk), infoOf(KindHPKE, hk)}
		return nil
	}
	if err != nil {
		return fmt.Errorf("keyring: %w", err)
	}
	var kr keyringJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&kr); err != nil {
		return fmt.Errorf("keyring %s: %w", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("keyring %s: unexpected data after the JSON object", path)
	}
	if kr.Version != 1 {
		return fmt.Errorf("keyring %s: unknown version %d; this tearline reads version 1", path, kr.Version)
	}
	current := map[KeyKind]*keyMaterial{KindSigning: sk, KindHPKE: hk}
	hasCurrent := map[KeyKind]bool{}
	seen := map[string]bool{}
	var keys []KeyInfo
	for i, e := range kr.Keys {
		where := fmt.Sprintf("keyring %s: key %d (%s)", path, i, e.ID)
		cur, ok := current[e.Kind]
		if !ok {
			return fmt.Errorf("%s: unknown kind %q; want %q or %q", where, e.Kind, KindSigning, KindHPKE)
		}
		if e.Algorithm != algorithmOf(e.Kind) {
			return fmt.Errorf("%s: unknown algorithm %q for a %s key", where, e.Algorithm, e.Kind)
		}
		if seen[e.ID] {
			return fmt.Errorf("%s: listed twice", where)
		}
		seen[e.ID] = true
		if !e.Created.Before(e.NotAfter) {
			return fmt.Errorf("%s: not_after is not after created", where)
		}
		info := KeyInfo{Kind: e.Kind, ID: e.ID, Algorithm: e.Algorithm, Created: e.Created.UTC(), NotAfter: e.NotAfter.UTC(), Status: e.Status, Reason: e.Reason}
		if e.Retired != nil {
			info.Retired = e.Retired.UTC()
		}
		if e.Revoked != nil {
			info.Revoked = e.Revoked.UTC()
		}
		var pub *keyMaterial
		switch e.Status {
		case StatusCurrent:
			if e.ID != cur.id {
				return fmt.Errorf("%s: the keyring says the current %s key is %s, but %s holds key %s; a rotation was interrupted or a file was replaced: restore the matching files from %s",
					where, e.Kind, e.ID, n.currentPath(e.Kind), cur.id, filepath.Join(n.keysDir(), ArchiveDir))
			}
			if e.Revoked != nil {
				return fmt.Errorf("%s: current, but has a revocation time", where)
			}
			if hasCurrent[e.Kind] {
				return fmt.Errorf("%s: a second current %s key", where, e.Kind)
			}
			hasCurrent[e.Kind] = true
			pub = cur
		case StatusRetired, StatusRevoked:
			if e.Retired == nil || (e.Status == StatusRevoked) != (e.Revoked != nil) {
				return fmt.Errorf("%s: status %s without the matching retired/revoked times", where, e.Status)
			}
			pub, err = readKeyFile(n.archivePath(e.Kind, e.ID, ".pub"), e.Algorithm, false)
			if err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
			if pub.id != e.ID {
				return fmt.Errorf("%s: archived public key has id %s", where, pub.id)
			}
		default:
			return fmt.Errorf("%s: unknown status %q", where, e.Status)
		}
		info.Signing, info.HPKE = pub.edPub, pub.hpkePub
		keys = append(keys, info)
	}
	for kind, cur := range current {
		if !hasCurrent[kind] {
			return fmt.Errorf("keyring %s: no current %s key; %s holds %s", path, kind, n.currentPath(kind), cur.id)
		}
	}
	sortKeys(keys)
	n.keys = keys
	return nil
}

// sortKeys orders keys current first, then newest first.
func sortKeys(keys []KeyInfo) {
	slices.SortStableFunc(keys, func(a, b KeyInfo) int {
		if (a.Status == StatusCurrent) != (b.Status == StatusCurrent) {
			if a.Status == StatusCurrent {
				return -1
			}
			return 1
		}
		if a.Kind != b.Kind {
			if a.Kind == KindSigning {
				return -1
			}
			return 1
		}
		return b.Created.Compare(a.Created)
	})
}

func (n *Node) currentPath(kind KeyKind) string {
	if kind == KindSigning {
		return n.path(n.Config.Keys.Signing)
	}
	return n.path(n.Config.Keys.HPKE)
}

// Keys returns every key the node has had: current keys first, then the
// others newest first.
func (n *Node) Keys() []KeyInfo {
	return slices.Clone(n.keys)
}

// CurrentKey returns the current key of the given kind.
func (n *Node) CurrentKey(kind KeyKind) KeyInfo {
	for _, k := range n.keys {
		if k.Kind == kind && k.Status == StatusCurrent {
			return k
		}
	}
	panic("node: no current " + string(kind) + " key") // loadKeyring guarantees one
}

// PublicKey returns the node's key of the given kind and id, whatever its
// status. For a revoked key the error wraps ErrKeyRevoked (the KeyInfo is
// returned too, to say when and why): callers MUST refuse it. For an id the
// node never had, of that kind, the error wraps ErrUnknownKey.
func (n *Node) PublicKey(kind KeyKind, id string) (KeyInfo, error) {
	for _, k := range n.keys {
		if k.Kind != kind || k.ID != id {
			continue
		}
		if k.Status == StatusRevoked {
			return k, fmt.Errorf("%w: %s key %s was revoked on %s (%s)", ErrKeyRevoked, kind, id, k.Revoked.Format(time.RFC3339), k.Reason)
		}
		return k, nil
	}
	return KeyInfo{}, fmt.Errorf("%w: this node has no %s key %s", ErrUnknownKey, kind, id)
}

// Sign signs msg with the current signing key, and returns that key's id.
// It refuses (ErrKeyExpired) once the key is past its validity period at
// now.
func (n *Node) Sign(msg []byte, now time.Time) (keyID string, sig []byte, err error) {
	k := n.CurrentKey(KindSigning)
	if !k.ValidAt(now) {
		return "", nil, fmt.Errorf("%w: signing key %s is valid from %s until %s; run `tearline keys rotate signing`",
			ErrKeyExpired, k.ID, k.Created.Format(time.RFC3339), k.NotAfter.Format(time.RFC3339))
	}
	return k.ID, ed25519.Sign(n.SigningKey, msg), nil
}

// HPKEPrivateKey returns the private HPKE key with the given id, to open
// what a partner sealed to it: the current key or a retired one. A revoked
// key is refused (ErrKeyRevoked), as is an unknown one (ErrUnknownKey).
func (n *Node) HPKEPrivateKey(id string) (hpke.PrivateKey, error) {
	info, err := n.PublicKey(KindHPKE, id)
	if err != nil {
		return nil, err
	}
	if info.Status == StatusCurrent {
		return n.HPKEKey, nil
	}
	k, err := readSecretKeyFile(n.archivePath(KindHPKE, id, ".key"), algHPKE, true, n.pass)
	if err != nil {
		return nil, fmt.Errorf("retired hpke key %s: %w", id, err)
	}
	if k.id != id {
		return nil, fmt.Errorf("retired hpke key %s: the archived file holds key %s", id, k.id)
	}
	return k.hpkePriv, nil
}

// PreviousSigningKey returns the most recently retired signing key, if it
// is not revoked, for one use only: signing the partner card that
// announces the current key, so that partners who pinned the previous key
// accept the new one. Without one, the error wraps ErrUnknownKey (never
// rotated) or ErrKeyRevoked (partners must re-pin by fingerprint).
func (n *Node) PreviousSigningKey() (ed25519.PrivateKey, KeyInfo, error) {
	var prev *KeyInfo
	for i, k := range n.keys {
		if k.Kind == KindSigning && k.Status != StatusCurrent && (prev == nil || k.Retired.After(prev.Retired)) {
			prev = &n.keys[i]
		}
	}
	if prev == nil {
		return nil, KeyInfo{}, fmt.Errorf("%w: the signing key was never rotated", ErrUnknownKey)
	}
	if prev.Status == StatusRevoked {
		return nil, *prev, fmt.Errorf("%w: the previous signing key %s was revoked", ErrKeyRevoked, prev.ID)
	}
	k, err := readSecretKeyFile(n.archivePath(KindSigning, prev.ID, ".key"), algEd25519, true, n.pass)
	if err != nil {
		return nil, *prev, fmt.Errorf("previous signing key %s: %w", prev.ID, err)
	}
	if k.id != prev.ID {
		return nil, *prev, fmt.Errorf("previous signing key %s: the archived file holds key %s", prev.ID, k.id)
	}
	return k.edPriv, *prev, nil
}

// RotateOptions are the choices RotateKey needs.
type RotateOptions struct {
	// Rand, if set, is read for the new key's 32-byte seed. Nil means the
	// standard library's secure generators.
	Rand io.Reader
	// Now, if set, replaces time.Now.
	Now func() time.Time
}

// RotateKey replaces the current key of the given kind with a fresh one
// and returns it. The old key's files are moved to keys/archive/ (hard
// links first, so they are never lost) and the keyring records it as
// retired. If the node's keys are passphrase-encrypted, so is the new one,
// with the same passphrase. n is reloaded.
//
// RotateKey is not atomic across files: if it is interrupted, Load reports
// the mismatch between the keyring and the key files, and the old key is
// in keys/archive/.
func (n *Node) RotateKey(kind KeyKind, opts RotateOptions) (KeyInfo, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	t := now().UTC().Truncate(time.Second)
	old := n.CurrentKey(kind)
	if kind != KindSigning && kind != KindHPKE {
		return KeyInfo{}, fmt.Errorf("rotate: unknown key kind %q", kind)
	}
	var passphrase []byte
	if n.encrypted {
		p, err := n.pass()
		if err != nil || len(p) == 0 {
			return KeyInfo{}, fmt.Errorf("rotate: %w: the node's keys are encrypted, and so must the new key be", ErrPassphraseRequired)
		}
		passphrase = p
	}
	var fresh *keyMaterial
	signing, encryption, err := generateKeys(opts.Rand, t)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}
	if kind == KindSigning {
		fresh = signing
	} else {
		fresh = encryption
	}

	archive := filepath.Join(n.keysDir(), ArchiveDir)
	if err := os.Mkdir(archive, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}
	priv := n.currentPath(kind)
	for _, l := range []struct{ from, to string }{
		{priv, n.archivePath(kind, old.ID, ".key")},
		{publicKeyPath(priv), n.archivePath(kind, old.ID, ".pub")},
	} {
		if err := linkSame(l.from, l.to); err != nil {
			return KeyInfo{}, fmt.Errorf("rotate: archive the old key: %w", err)
		}
	}
	if err := syncDir(archive); err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}
	data, err := encodeKey(fresh, passphrase)
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}
	defer clear(data)
	if err := replaceAtomically(priv, data, 0o600); err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}
	pub, err := fresh.public().encode()
	if err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}
	if err := replaceAtomically(publicKeyPath(priv), pub, 0o644); err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}

	keys := n.Keys()
	for i := range keys {
		if keys[i].ID == old.ID {
			keys[i].Status, keys[i].Retired = StatusRetired, t
		}
	}
	keys = append(keys, infoOf(kind, fresh))
	if err := n.writeKeyring(keys); err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: %w", err)
	}
	if err := n.reload(); err != nil {
		return KeyInfo{}, fmt.Errorf("rotate: read back the rotated keys: %w", err)
	}
	return n.CurrentKey(kind), nil
}

// ErrRevokeCurrent is returned (wrapped) by RevokeKey for a current key:
// rotate it first, so that the node keeps a usable key.
var ErrRevokeCurrent = errors.New("cannot revoke a current key")

// RevokeKey records that the key with the given id is revoked, at now, for
// reason. From then on lookups of it fail with ErrKeyRevoked: the node
// neither signs nor opens anything with it, and the partner card lists it
// as revoked. A current key must be rotated first (ErrRevokeCurrent). The
// archived private key file is kept: destroying it is the operator's
// choice.
func (n *Node) RevokeKey(id, reason string, now time.Time) (KeyInfo, error) {
	keys := n.Keys()
	i := slices.IndexFunc(keys, func(k KeyInfo) bool { return k.ID == id })
	if i < 0 {
		return KeyInfo{}, fmt.Errorf("revoke: %w: this node has no key %s (see `tearline keys show`)", ErrUnknownKey, id)
	}
	switch keys[i].Status {
	case StatusCurrent:
		return KeyInfo{}, fmt.Errorf("revoke: %w: %s is the current %s key; run `tearline keys rotate %s` first, then revoke %s",
			ErrRevokeCurrent, id, keys[i].Kind, keys[i].Kind, id)
	case StatusRevoked:
		return keys[i], fmt.Errorf("revoke: %w: %s was already revoked on %s", ErrKeyRevoked, id, keys[i].Revoked.Format(time.RFC3339))
	}
	if reason == "" {
		reason = "unspecified"
	}
	if err := validateName(reason); err != nil {
		return KeyInfo{}, fmt.Errorf("revoke: reason: %w", err)
	}
	keys[i].Status, keys[i].Revoked, keys[i].Reason = StatusRevoked, now.UTC().Truncate(time.Second), reason
	if err := n.writeKeyring(keys); err != nil {
		return KeyInfo{}, fmt.Errorf("revoke: %w", err)
	}
	if err := n.reload(); err != nil {
		return KeyInfo{}, fmt.Errorf("revoke: %w", err)
	}
	return keys[i], nil
}

// reload reads the node directory again into n, with the same passphrase
// and without environment overrides of the config (which are kept).
func (n *Node) reload() error {
	fresh, err := loadWith(n.Dir, nil, n.pass)
	if err != nil {
		return err
	}
	fresh.Config, fresh.Overrides = n.Config, n.Overrides
	*n = *fresh
	return nil
}

func (n *Node) writeKeyring(keys []KeyInfo) error {
	kr := keyringJSON{Version: 1}
	for _, k := range keys {
		e := keyringEntryJS{Kind: k.Kind, ID: k.ID, Algorithm: k.Algorithm, Created: k.Created, NotAfter: k.NotAfter, Status: k.Status, Reason: k.Reason}
		if !k.Retired.IsZero() {
			e.Retired = &k.Retired
		}
		if !k.Revoked.IsZero() {
			e.Revoked = &k.Revoked
		}
		kr.Keys = append(kr.Keys, e)
	}
	data, err := json.MarshalIndent(kr, "", "  ")
	if err != nil {
		return err
	}
	return replaceAtomically(n.keyringPath(), append(data, '\n'), 0o644)
}

// linkSame hard-links from to to, or checks that to already holds the same
// bytes (a rotation resumed).
func linkSame(from, to string) error {
	err := os.Link(from, to)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	a, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(to)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("%s already exists with other content; refusing to overwrite it", to)
	}
	return nil
}

// replaceAtomically writes data to path, replacing what is there, atomically: a
// temporary file, synced, renamed over path. Only state that is meant to
// change (the keyring, a rotated key whose old version is archived) is
// written this way.
func replaceAtomically(path string, data []byte, perm fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
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
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// EncryptPrivateKeys encrypts, with passphrase, every private key file of
// the node that is not encrypted yet (current, archived and the TLS key),
// and returns the files it rewrote. Each file is replaced atomically.
func (n *Node) EncryptPrivateKeys(passphrase []byte) ([]string, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("encrypt keys: %w", ErrPassphraseRequired)
	}
	files := []string{n.currentPath(KindSigning), n.currentPath(KindHPKE), n.tlsKeyPath()}
	archived, _ := filepath.Glob(filepath.Join(n.keysDir(), ArchiveDir, "*.key"))
	files = append(files, archived...)
	var done []string
	for _, f := range files {
		data, err := readNodeFile(f, true, maxKeyFile)
		if errors.Is(err, fs.ErrNotExist) && f == n.tlsKeyPath() {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("encrypt keys: %w", err)
		}
		if isEncrypted(data) {
			continue
		}
		enc, err := encryptKeyFile(data, passphrase)
		clear(data)
		if err != nil {
			return done, err
		}
		if err := replaceAtomically(f, enc, 0o600); err != nil {
			return done, fmt.Errorf("encrypt keys: %w", err)
		}
		done = append(done, f)
	}
	n.encrypted = true
	n.pass = oncePass(func() ([]byte, error) { return passphrase, nil })
	return done, nil
}
