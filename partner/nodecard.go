package partner

import (
	"errors"
	"fmt"
	"time"

	"github.com/tearline/tearline/node"
)

func cardKey(k node.KeyInfo) Key {
	return Key{ID: k.ID, Algorithm: k.Algorithm, Public: k.PublicBytes(), NotBefore: k.Created, NotAfter: k.NotAfter, Retired: k.Retired}
}

// NodeCard makes and signs the card of node n: its partner code and name,
// the endpoints given, its current keys, its retired signing keys, the keys
// it revoked and its TLS certificate's fingerprint (the certificate is made
// if the node has none yet), issued at now.
//
// The card is signed by the current signing key and, if the node rotated
// its signing key and has not revoked the previous one, by the previous
// one too, so that partners who pinned it accept the card. NodeCard refuses
// if the current signing key is past its validity period.
func NodeCard(n *node.Node, endpoints []string, now time.Time) (*Card, []byte, error) {
	cert, err := n.TLSCertificate()
	if err != nil {
		return nil, nil, fmt.Errorf("partner card: %w", err)
	}
	sk := n.CurrentKey(node.KindSigning)
	if !sk.ValidAt(now) {
		return nil, nil, fmt.Errorf("partner card: %w: signing key %s is valid until %s; run `tearline keys rotate signing`",
			node.ErrKeyExpired, sk.ID, sk.NotAfter.Format(time.RFC3339))
	}
	c := &Card{
		Partner:              n.Config.Node.Partner,
		Name:                 n.Config.Node.Name,
		Endpoints:            append([]string{}, endpoints...),
		SigningKey:           cardKey(sk),
		HPKEKey:              cardKey(n.CurrentKey(node.KindHPKE)),
		RetiredSigningKeys:   []Key{},
		RevokedKeys:          []RevokedKey{},
		TLSCertificateSHA256: node.CertificateFingerprint(cert.Certificate[0]),
		Issued:               now.UTC().Truncate(time.Second),
	}
	for _, k := range n.Keys() {
		switch {
		case k.Status == node.StatusRevoked:
			c.RevokedKeys = append(c.RevokedKeys, RevokedKey{Kind: string(k.Kind), ID: k.ID, Revoked: k.Revoked})
		case k.Status == node.StatusRetired && k.Kind == node.KindSigning:
			c.RetiredSigningKeys = append(c.RetiredSigningKeys, cardKey(k))
		}
	}
	signers := []Signer{{KeyID: sk.ID, Key: n.SigningKey}}
	prev, info, err := n.PreviousSigningKey()
	switch {
	case err == nil:
		signers = append(signers, Signer{KeyID: info.ID, Key: prev})
	case errors.Is(err, node.ErrUnknownKey), errors.Is(err, node.ErrKeyRevoked):
		// Never rotated, or the previous key is revoked: partners must pin
		// this card by its fingerprint.
	default:
		return nil, nil, fmt.Errorf("partner card: %w", err)
	}
	data, err := Sign(c, signers...)
	if err != nil {
		return nil, nil, err
	}
	return c, data, nil
}
