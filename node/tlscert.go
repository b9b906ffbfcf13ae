package node

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// The node's TLS identity.
//
// A node authenticates itself in TLS with a self-signed X.509 certificate
// for an ECDSA P-256 key, in the directory tls/ of the node directory (mode
// 0700): node.key, the key as a PKCS #8 "PRIVATE KEY" PEM block (mode
// 0600; age-encrypted like the other private keys when the node's keys are
// encrypted), and node.crt, the certificate as a "CERTIFICATE" PEM block
// (mode 0644). Partners pin the SHA-256 of the certificate's DER bytes
// (CertificateFingerprint), carried in the partner card, instead of trusting
// a certificate authority.
//
// ECDSA P-256 rather than Ed25519: the same listener will serve TAXII
// clients and browsers (the web console), and browsers and many TLS stacks
// still do not accept Ed25519 certificates; P-256 is also the curve that
// government crypto approvals (FIPS 140, national schemes) accept
// everywhere. Quantum resistance of the session comes from the
// X25519MLKEM768 key exchange, not from the certificate.

// TLSDir is the directory of the node's TLS key and certificate, in the
// node directory.
const TLSDir = "tls"

// TLS file names, in TLSDir.
const (
	TLSKeyFile  = "node.key"
	TLSCertFile = "node.crt"
)

// DefaultTLSValidity is how long a new TLS certificate is valid for.
const DefaultTLSValidity = 2 * 365 * 24 * time.Hour

func (n *Node) tlsKeyPath() string  { return filepath.Join(n.Dir, TLSDir, TLSKeyFile) }
func (n *Node) tlsCertPath() string { return filepath.Join(n.Dir, TLSDir, TLSCertFile) }

// CertificateFingerprint returns the SHA-256 of a certificate's DER bytes,
// in lowercase hex: what a partner card pins.
func CertificateFingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// TLSCertificate returns the node's TLS certificate and key, making them
// first if the node has none (nodes initialised before they existed).
func (n *Node) TLSCertificate() (tls.Certificate, error) {
	_, err := os.Lstat(n.tlsCertPath())
	if errors.Is(err, fs.ErrNotExist) {
		var passphrase []byte
		if n.encrypted {
			if passphrase, err = n.pass(); err != nil || len(passphrase) == 0 {
				return tls.Certificate{}, fmt.Errorf("tls certificate: %w", ErrPassphraseRequired)
			}
		}
		err := createTLS(filepath.Join(n.Dir, TLSDir), n.Config.Node.Partner, time.Now().UTC(), passphrase)
		// Another process may have made them meanwhile: read theirs.
		if err != nil && !errors.Is(err, ErrInitialised) {
			return tls.Certificate{}, fmt.Errorf("tls certificate: %w", err)
		}
	}
	return readTLS(n.tlsKeyPath(), n.tlsCertPath(), n.pass)
}

// createTLS makes a TLS key and self-signed certificate in dir, valid from
// now. It never overwrites a file.
func createTLS(dir, partner string, now time.Time, passphrase []byte) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "tearline node " + partner, Organization: []string{"Tearline"}},
		// An hour of slack for partners whose clocks run behind.
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(DefaultTLSValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("create tls certificate: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	clear(pkcs8)
	defer clear(keyPEM)
	keyData := keyPEM
	if passphrase != nil {
		if keyData, err = encryptKeyFile(keyPEM, passphrase); err != nil {
			return err
		}
	}
	if err := writeNew(filepath.Join(dir, TLSKeyFile), keyData, 0o600); err != nil {
		return err
	}
	if err := writeNew(filepath.Join(dir, TLSCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return err
	}
	return syncDir(dir)
}

// readTLS reads the TLS key and certificate and checks that they belong
// together.
func readTLS(keyPath, certPath string, pass passSource) (tls.Certificate, error) {
	keyData, err := readNodeFile(keyPath, true, maxKeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls key: %w", err)
	}
	if isEncrypted(keyData) {
		if keyData, err = decryptKeyFile(keyData, pass); err != nil {
			return tls.Certificate{}, fmt.Errorf("tls key %s: %w", keyPath, err)
		}
	}
	defer clear(keyData)
	certData, err := readNodeFile(certPath, false, maxKeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls certificate: %w", err)
	}
	cert, err := tls.X509KeyPair(certData, keyData)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls key %s and certificate %s: %w", keyPath, certPath, err)
	}
	if _, ok := cert.PrivateKey.(*ecdsa.PrivateKey); !ok {
		return tls.Certificate{}, fmt.Errorf("tls key %s: not an ECDSA key", keyPath)
	}
	return cert, nil
}
