// Package node owns a Tearline node's directory on disk: its config file
// (tearline.yaml) and its long-term keys, an Ed25519 signing key and an HPKE
// MLKEM768-X25519 key, under keys/.
//
// Init creates a node directory and Load reads one back, applying the
// environment overrides and refusing private keys that anyone but their
// owner can open.
//
// # Key files
//
// A key file is one PEM block with three headers and nothing around it:
//
//	-----BEGIN TEARLINE PRIVATE KEY-----
//	Algorithm: ed25519
//	Created: 2026-01-02T15:04:05Z
//	Key-Id: 9f86d081884c7d65
//
//	<base64 of the key bytes>
//	-----END TEARLINE PRIVATE KEY-----
//
// The block type is TEARLINE PRIVATE KEY or TEARLINE PUBLIC KEY. Algorithm
// says how to read the bytes:
//
//	ed25519               private: the 32-byte RFC 8032 seed;
//	                      public: the 32-byte public key
//	hpke-mlkem768-x25519  private: the 32-byte seed that HPKE's
//	                      SerializePrivateKey gives for the KEM
//	                      MLKEM768-X25519 (X-Wing, KEM id 0x647a);
//	                      public: the 1216-byte SerializePublicKey output
//
// Key-Id is KeyID of the public key, in the private and the public file
// alike. Created is when the key was generated, in RFC 3339 form, UTC, to
// the second.
//
// Reading a key file fails closed: an unknown block type, algorithm or
// header, a key of the wrong length, a Key-Id that does not match the key,
// or any text outside the block is an error. A file cut short lacks its END
// line and is refused too.
//
// A private key file may instead be encrypted at rest with a passphrase:
// the key file above, encrypted with an age scrypt recipient
// (filippo.io/age) and ASCII-armored (-----BEGIN AGE ENCRYPTED FILE-----).
// Load opens it with the passphrase from EnvKeyPassphrase or
// LoadOptions.Passphrase and refuses to load without it
// (ErrPassphraseRequired, ErrWrongPassphrase).
//
// Keys have a lifecycle (current, retired, revoked) recorded in
// keys/keyring.json, with retired keys in keys/archive/; see keyring.go and
// RotateKey, RevokeKey, PublicKey. The node's TLS identity, a self-signed
// ECDSA P-256 certificate, is in tls/; see TLSCertificate.
//
// This package MUST NOT overwrite an existing config or key file: keys that
// partners have pinned cannot be replaced by accident. The one exception
// is RotateKey, which replaces the current key file only after linking it
// into keys/archive/, and EncryptPrivateKeys, which replaces a file with
// the same key encrypted. It MUST fail closed:
// an unknown setting, algorithm or key header is an error, never a default.
// It does not open the database: it only knows the database's path or URL
// from the config, and MUST NOT import a database driver (sqlite, postgres);
// cmd/tearline opens the database.
package node

import (
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

var (
	// ErrInitialised is returned (wrapped) by Init when the directory
	// already holds a node's config or keys.
	ErrInitialised = errors.New("node directory already initialised")
	// ErrNotInitialised is returned (wrapped) by Load when the directory
	// holds no config file.
	ErrNotInitialised = errors.New("node directory not initialised")
	// ErrInsecurePermissions is returned (wrapped) by Load when a private key
	// file, or the directory that holds it, is open to group or others.
	ErrInsecurePermissions = errors.New("insecure permissions")
)

// Node is a node directory as loaded: its config and its long-term keys.
type Node struct {
	// Dir is the absolute path of the node directory.
	Dir string
	// Config is the config file's content, with defaults and environment
	// overrides applied.
	Config Config
	// Overrides names the environment variables that changed Config.
	Overrides []string

	// SigningKey signs what the node sends; SigningPublicKey is what
	// partners verify it with, identified by SigningKeyID (see KeyID).
	SigningKey       ed25519.PrivateKey
	SigningPublicKey ed25519.PublicKey
	SigningKeyID     string

	// HPKEKey opens what partners seal to HPKEPublicKey (KEM
	// MLKEM768-X25519), identified by HPKEKeyID (see KeyID).
	HPKEKey       hpke.PrivateKey
	HPKEPublicKey hpke.PublicKey
	HPKEKeyID     string

	// keys is the keyring: every key the node has had, current ones first
	// (see Keys).
	keys []KeyInfo
	// encrypted says the current private key files are
	// passphrase-encrypted; keys the node makes later are encrypted too.
	encrypted bool
	// pass gives the passphrase of encrypted key files read after Load
	// (retired keys, the TLS key).
	pass passSource
}

// InitOptions are the choices Init needs.
type InitOptions struct {
	// Partner is the node's partner code: an ISO 3166 alpha-3 trigraph
	// (GBR) or an organisation code, 3 to 10 uppercase letters or digits.
	Partner string
	// Name is a human-readable name for the node; required.
	Name string
	// Rand, if set, is read for the key seeds (32 bytes for the Ed25519 key,
	// then 32 for the HPKE key), so that tests can make the same keys twice.
	// Nil means the standard library's secure generators.
	Rand io.Reader
	// Now, if set, replaces time.Now for the creation times written in the
	// key and config files.
	Now func() time.Time
	// Passphrase, if set, encrypts the private key files at rest (age,
	// scrypt). Load then needs it, from EnvKeyPassphrase or
	// LoadOptions.Passphrase.
	Passphrase []byte
}

// initialisedError is Init's refusal to touch an existing node.
type initialisedError struct{ msg string }

func (e *initialisedError) Error() string        { return e.msg }
func (e *initialisedError) Is(target error) bool { return target == ErrInitialised }

// Init creates a node directory at dir: the directory itself (mode 0700) if
// it is missing, the config file, and a fresh signing key and HPKE key with
// their public halves under keys/ (mode 0700; private keys 0600, public
// keys 0644). It refuses, with an error wrapping ErrInitialised, if dir
// already holds a config file or anything in keys/, and never overwrites a
// file.
//
// Each file is written whole or not at all. The config file is written
// last, so a directory that has one was fully initialised.
//
// The returned Node is read back from the files written, without
// environment overrides; Load applies those.
func Init(dir string, opts InitOptions) (*Node, error) {
	if err := validatePartner(opts.Partner); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	if err := validateName(opts.Name); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	created := now().UTC().Truncate(time.Second)

	cfg := Config{Version: ConfigVersion, Node: NodeConfig{Partner: opts.Partner, Name: opts.Name}}
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	conf, err := renderConfig(cfg, created)
	if err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}

	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	keysDir := filepath.Join(abs, filepath.Dir(DefaultSigningKeyPath))
	if err := prepareFresh(abs, keysDir); err != nil {
		return nil, err
	}

	signing, encryption, err := generateKeys(opts.Rand, created)
	if err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	for _, k := range []struct {
		key  *keyMaterial
		path string
	}{
		{signing, cfg.Keys.Signing},
		{encryption, cfg.Keys.HPKE},
	} {
		path := filepath.Join(abs, k.path)
		if err := writeKey(k.key, path, 0o600, opts.Passphrase); err != nil {
			return nil, fmt.Errorf("init node: %w", err)
		}
		if err := writeKey(k.key.public(), publicKeyPath(path), 0o644, nil); err != nil {
			return nil, fmt.Errorf("init node: %w", err)
		}
	}
	if err := syncDir(keysDir); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	if err := createTLS(filepath.Join(abs, TLSDir), cfg.Node.Partner, created, opts.Passphrase); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	if err := writeNew(filepath.Join(abs, ConfigFile), conf, 0o644); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}
	if err := syncDir(abs); err != nil {
		return nil, fmt.Errorf("init node: %w", err)
	}

	var pass passSource
	if opts.Passphrase != nil {
		pass = func() ([]byte, error) { return opts.Passphrase, nil }
	}
	n, err := loadWith(abs, nil, pass)
	if err != nil {
		return nil, fmt.Errorf("init node: read back what was written: %w", err)
	}
	return n, nil
}

// prepareFresh checks that dir holds no node yet and makes its keys
// directory, closed to group and others.
func prepareFresh(dir, keysDir string) error {
	if _, err := os.Lstat(filepath.Join(dir, ConfigFile)); !errors.Is(err, fs.ErrNotExist) {
		if err != nil {
			return fmt.Errorf("init node: %w", err)
		}
		return &initialisedError{fmt.Sprintf(
			"node directory %s is already initialised (%s exists); refusing to overwrite its keys; use another --dir or remove it deliberately",
			dir, ConfigFile)}
	}
	fi, err := os.Lstat(keysDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.Mkdir(keysDir, 0o700); err != nil {
			return fmt.Errorf("init node: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("init node: %w", err)
	case !fi.IsDir():
		return fmt.Errorf("init node: %s exists and is not a directory; move it away or use another --dir", keysDir)
	}
	entries, err := os.ReadDir(keysDir)
	if err != nil {
		return fmt.Errorf("init node: %w", err)
	}
	if len(entries) > 0 {
		rel, _ := filepath.Rel(dir, filepath.Join(keysDir, entries[0].Name()))
		return &initialisedError{fmt.Sprintf(
			"node directory %s already holds key files (%s exists); refusing to overwrite them; use another --dir or remove it deliberately",
			dir, rel)}
	}
	// An empty keys directory is ours to use; make sure it is private.
	if err := os.Chmod(keysDir, 0o700); err != nil {
		return fmt.Errorf("init node: %w", err)
	}
	return nil
}

// generateKeys makes the node's signing and HPKE keys, from rand's bytes
// when it is set.
func generateKeys(rand io.Reader, created time.Time) (signing, encryption *keyMaterial, err error) {
	var edPriv ed25519.PrivateKey
	var hpkePriv hpke.PrivateKey
	if rand == nil {
		if _, edPriv, err = ed25519.GenerateKey(nil); err != nil {
			return nil, nil, fmt.Errorf("generate ed25519 key: %w", err)
		}
		if hpkePriv, err = hpkeKEM.GenerateKey(); err != nil {
			return nil, nil, fmt.Errorf("generate %s key: %w", algHPKE, err)
		}
	} else {
		seed := make([]byte, ed25519.SeedSize+hpkeSeedSize)
		defer clear(seed)
		if _, err := io.ReadFull(rand, seed); err != nil {
			return nil, nil, fmt.Errorf("read randomness: %w", err)
		}
		edPriv = ed25519.NewKeyFromSeed(seed[:ed25519.SeedSize])
		if hpkePriv, err = hpkeKEM.NewPrivateKey(seed[ed25519.SeedSize:]); err != nil {
			return nil, nil, fmt.Errorf("generate %s key: %w", algHPKE, err)
		}
	}
	return newEd25519Key(edPriv, created), newHPKEKey(hpkePriv, created), nil
}

// writeKey writes k to the new file path, encrypted with passphrase if it
// is a private key and passphrase is set.
func writeKey(k *keyMaterial, path string, perm fs.FileMode, passphrase []byte) error {
	data, err := encodeKey(k, passphrase)
	if err != nil {
		return err
	}
	defer clear(data)
	return writeNew(path, data, perm)
}

// encodeKey returns k in the key file format, encrypted with passphrase if
// it is a private key and passphrase is set.
func encodeKey(k *keyMaterial, passphrase []byte) ([]byte, error) {
	data, err := k.encode()
	if err != nil {
		return nil, err
	}
	if !k.private || passphrase == nil {
		return data, nil
	}
	defer clear(data)
	return encryptKeyFile(data, passphrase)
}

// Load reads the node directory at dir: its config file, then the
// environment overrides (EnvDatabaseURL, EnvListen, EnvLogLevel), then its
// keys and keyring. Passphrase-encrypted private keys are opened with the
// passphrase in EnvKeyPassphrase; without it Load fails with an error
// wrapping ErrPassphraseRequired (see LoadWith to ask for it otherwise).
//
// Load fails closed. It refuses a config file with an unknown or invalid
// setting, naming the file, line and setting; a key file that is damaged,
// of an unknown algorithm, or whose public half does not match; and a
// private key file or keys directory open to group or others (the error
// wraps ErrInsecurePermissions and says which chmod to run). A directory
// without a config file gives an error wrapping ErrNotInitialised.
func Load(dir string) (*Node, error) {
	return LoadWith(dir, LoadOptions{})
}

// ReadConfig reads the config of the node in dir, with environment
// overrides, and registers its classification schemes, without opening
// its keys: for commands that need the node's settings but not its
// identity.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, fmt.Errorf("%w: %s has no %s; run `tearline init --dir %s` to create a node there", ErrNotInitialised, dir, ConfigFile, dir)
	}
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c, err := parseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	if _, err := c.applyEnv(os.LookupEnv); err != nil {
		return Config{}, fmt.Errorf("environment: %w", err)
	}
	if err := c.registerSchemes(); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// LoadOptions are the choices LoadWith offers.
type LoadOptions struct {
	// Passphrase returns the passphrase of passphrase-encrypted private key
	// files, or nil if there is none (a terminal prompt, say). It is called
	// at most once, and only if a key file is encrypted. Nil means the
	// value of EnvKeyPassphrase.
	Passphrase func() ([]byte, error)
}

// LoadWith is Load with options.
func LoadWith(dir string, opts LoadOptions) (*Node, error) {
	pass := passSource(opts.Passphrase)
	if pass == nil {
		pass = envPassphrase(os.LookupEnv)
	}
	return loadWith(dir, os.LookupEnv, pass)
}

// envPassphrase reads the passphrase from EnvKeyPassphrase.
func envPassphrase(env func(string) (string, bool)) passSource {
	return func() ([]byte, error) {
		if v, ok := env(EnvKeyPassphrase); ok && v != "" {
			return []byte(v), nil
		}
		return nil, nil
	}
}

// loadWith is load with the passphrase of encrypted key files from pass.
func loadWith(dir string, env func(string) (string, bool), pass passSource) (*Node, error) {
	pass = oncePass(pass)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("load node: %w", err)
	}
	n := &Node{Dir: abs, pass: pass}
	path := n.ConfigPath()
	data, err := readConfigFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s has no %s; run `tearline init --dir %s` to create a node there",
			ErrNotInitialised, abs, ConfigFile, abs)
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if n.Config, err = parseConfig(data); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := n.Config.registerSchemes(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if env != nil {
		if n.Overrides, err = n.Config.applyEnv(env); err != nil {
			return nil, fmt.Errorf("environment: %w", err)
		}
	}

	sk, err := loadKeyPair(n.path(n.Config.Keys.Signing), algEd25519, pass)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	n.SigningKey, n.SigningPublicKey, n.SigningKeyID = sk.edPriv, sk.edPub, sk.id

	hk, err := loadKeyPair(n.path(n.Config.Keys.HPKE), algHPKE, pass)
	if err != nil {
		return nil, fmt.Errorf("hpke key: %w", err)
	}
	n.HPKEKey, n.HPKEPublicKey, n.HPKEKeyID = hk.hpkePriv, hk.hpkePub, hk.id
	n.encrypted = sk.encrypted || hk.encrypted
	if err := n.loadKeyring(sk, hk); err != nil {
		return nil, err
	}
	return n, nil
}

func readConfigFile(path string) ([]byte, error) {
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
		return nil, errors.New("not a regular file")
	}
	return io.ReadAll(io.LimitReader(f, maxConfigFile+1))
}

// ConfigPath returns the path of the node's config file.
func (n *Node) ConfigPath() string {
	return filepath.Join(n.Dir, ConfigFile)
}

// path resolves a path from the config against the node directory.
func (n *Node) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(n.Dir, p)
}

// DatabaseDriver returns the database driver, DriverSQLite or
// DriverPostgres.
func (n *Node) DatabaseDriver() string {
	return n.Config.Database.Driver
}

// DatabasePath returns the absolute path of the SQLite database file, or ""
// if the node uses PostgreSQL.
func (n *Node) DatabasePath() string {
	if n.Config.Database.Driver != DriverSQLite {
		return ""
	}
	return n.path(n.Config.Database.Path)
}

// DatabaseURL returns the PostgreSQL connection URL, or "" if the node uses
// SQLite. It may hold a password and MUST NOT be logged or shown; use
// RedactedDatabaseURL for that.
func (n *Node) DatabaseURL() string {
	if n.Config.Database.Driver != DriverPostgres {
		return ""
	}
	return n.Config.Database.URL
}

// RedactedDatabaseURL returns DatabaseURL with any password masked, fit
// for logs and messages.
func (n *Node) RedactedDatabaseURL() string {
	raw := n.DatabaseURL()
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable url)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
