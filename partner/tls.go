package partner

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Node-to-node transport.
//
// Nodes talk to each other over TLS 1.3 only, with mutual authentication:
// each side presents its node certificate (node.Node.TLSCertificate) and
// accepts the other's only if its SHA-256 is the tls_certificate_sha256 of
// a pinned partner card. No certificate authority is trusted by default,
// not even the system's: a partner is who the operator pinned. Plain HTTP
// is never used between nodes; CheckEndpoint refuses http:// endpoints on
// cards.

// CurvePreferences are the key exchanges node-to-node TLS offers:
// X25519MLKEM768 first, then the other hybrid post-quantum groups, and
// nothing classical. Every Tearline node supports them, and intelligence
// must stay secret for decades: a session that an adversary recording
// traffic today could decrypt with a future quantum computer is refused
// rather than negotiated.
var CurvePreferences = []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.SecP384r1MLKEM1024}

// ErrUnknownPeer is wrapped by the handshake error when the peer's
// certificate is not pinned for any partner, or not for the partner
// expected.
var ErrUnknownPeer = errors.New("peer certificate not pinned")

// Pins maps a peer's certificate to the partner it was pinned for.
type Pins interface {
	// PartnerForCertificate returns the partner code whose pinned card
	// carries the SHA-256 of der, the certificate's DER bytes.
	PartnerForCertificate(der []byte) (code string, ok bool)
}

// Peers is the Pins of a set of pinned cards.
type Peers struct {
	byCert map[[32]byte]string
}

var _ Pins = (*Peers)(nil)

// NewPeers returns the Pins of the given cards. Two partners with the same
// certificate fingerprint are refused: a connection must belong to one
// partner.
func NewPeers(cards []*Card) (*Peers, error) {
	p := &Peers{byCert: map[[32]byte]string{}}
	for _, c := range cards {
		var fp [32]byte
		if _, err := hex.Decode(fp[:], []byte(c.TLSCertificateSHA256)); err != nil {
			return nil, fmt.Errorf("partner %s: tls_certificate_sha256: %w", c.Partner, err)
		}
		if other, ok := p.byCert[fp]; ok && other != c.Partner {
			return nil, fmt.Errorf("partners %s and %s pin the same TLS certificate %s; a certificate belongs to one partner",
				other, c.Partner, c.TLSCertificateSHA256)
		}
		p.byCert[fp] = c.Partner
	}
	return p, nil
}

// StorePeers returns the Pins of every card pinned in s.
func StorePeers(s *Store) (*Peers, error) {
	pinned, err := s.List()
	if err != nil {
		return nil, err
	}
	cards := make([]*Card, len(pinned))
	for i, p := range pinned {
		cards[i] = p.Card
	}
	return NewPeers(cards)
}

// PartnerForCertificate implements Pins.
func (p *Peers) PartnerForCertificate(der []byte) (string, bool) {
	code, ok := p.byCert[sha256.Sum256(der)]
	return code, ok
}

// TLSOptions are what the TLS configs need.
type TLSOptions struct {
	// Certificate is this node's TLS certificate and key.
	Certificate tls.Certificate
	// Pins says which certificates belong to which partner. Required.
	Pins Pins
	// RootCAs, if set, is an operator-configured CA bundle that the peer's
	// certificate chain must ALSO verify against (for agencies whose policy
	// requires their PKI). It never replaces pinning.
	RootCAs *x509.CertPool
	// Time, if set, replaces time.Now for certificate validity.
	Time func() time.Time
}

func baseConfig(opts TLSOptions) (*tls.Config, error) {
	if opts.Pins == nil {
		return nil, errors.New("tls config: no pinned partners given")
	}
	if len(opts.Certificate.Certificate) == 0 {
		return nil, errors.New("tls config: no node certificate given")
	}
	return &tls.Config{
		MinVersion:       tls.VersionTLS13,
		MaxVersion:       tls.VersionTLS13,
		CurvePreferences: CurvePreferences,
		Certificates:     []tls.Certificate{opts.Certificate},
		Time:             opts.Time,
		// Resumed sessions skip the certificate exchange; every connection
		// proves its certificate afresh, so that unpinning takes effect.
		SessionTicketsDisabled: true,
	}, nil
}

// ServerConfig returns the TLS config of a node server: TLS 1.3 only,
// hybrid post-quantum key exchange, a client certificate required and
// accepted only if it is pinned for a partner (see PeerPartner for which).
// A client with an unknown certificate fails the handshake.
func ServerConfig(opts TLSOptions) (*tls.Config, error) {
	cfg, err := baseConfig(opts)
	if err != nil {
		return nil, err
	}
	// RequireAnyClientCert: the chain is checked by VerifyConnection
	// against the pins, not against a CA pool.
	cfg.ClientAuth = tls.RequireAnyClientCert
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		_, err := verifyPeer(cs, opts, "")
		return err
	}
	return cfg, nil
}

// ClientConfig returns the TLS config of a node client that connects to
// the node of partner code: TLS 1.3 only, hybrid post-quantum key
// exchange, this node's certificate presented, and the server's accepted
// only if it is pinned for that partner.
func ClientConfig(opts TLSOptions, partner string) (*tls.Config, error) {
	if !partnerCode.MatchString(partner) {
		return nil, fmt.Errorf("tls config: %q is not a partner code", partner)
	}
	cfg, err := baseConfig(opts)
	if err != nil {
		return nil, err
	}
	// InsecureSkipVerify turns off only the CA and host name checks of
	// crypto/tls; VerifyConnection below replaces them with the pins, which
	// is stricter. Go still checks that the server holds the certificate's
	// key.
	cfg.InsecureSkipVerify = true
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		_, err := verifyPeer(cs, opts, partner)
		return err
	}
	return cfg, nil
}

// PeerPartner returns the partner code a connection belongs to, from its
// peer certificate and the pins: the function a server calls on each
// request.
func PeerPartner(cs tls.ConnectionState, pins Pins) (string, error) {
	if !cs.HandshakeComplete {
		return "", errors.New("tls handshake not complete")
	}
	return verifyPeer(cs, TLSOptions{Pins: pins}, "")
}

func verifyPeer(cs tls.ConnectionState, opts TLSOptions, want string) (string, error) {
	if cs.Version != tls.VersionTLS13 {
		return "", fmt.Errorf("tls version %#04x; node-to-node needs TLS 1.3", cs.Version)
	}
	if len(cs.PeerCertificates) == 0 {
		return "", fmt.Errorf("%w: the peer presented no certificate", ErrUnknownPeer)
	}
	leaf := cs.PeerCertificates[0]
	code, ok := opts.Pins.PartnerForCertificate(leaf.Raw)
	if !ok {
		return "", fmt.Errorf("%w: certificate SHA-256 %x (%s) is not on any pinned partner card", ErrUnknownPeer, sha256.Sum256(leaf.Raw), leaf.Subject)
	}
	if want != "" && code != want {
		return "", fmt.Errorf("%w: the certificate is pinned for %s, not for %s", ErrUnknownPeer, code, want)
	}
	now := time.Now()
	if opts.Time != nil {
		now = opts.Time()
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return "", fmt.Errorf("certificate of %s is valid from %s until %s, not now", code, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	if opts.RootCAs != nil {
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: opts.RootCAs, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return "", fmt.Errorf("certificate of %s: %w", code, err)
		}
	}
	return code, nil
}
