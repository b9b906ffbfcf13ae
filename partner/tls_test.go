package partner

import (
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/node"
)

// tlsNode is a node with its certificate and its pinned partners.
type tlsNode struct {
	n     *node.Node
	cert  tls.Certificate
	store *Store
}

func newTLSNode(t *testing.T, code string, seed byte) *tlsNode {
	t.Helper()
	n := newNode(t, code, seed)
	cert, err := n.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	return &tlsNode{n: n, cert: cert, store: NewStore(n.Dir, code)}
}

// pin makes a pin b's card, as an operator would after comparing the
// fingerprint.
func (a *tlsNode) pin(t *testing.T, b *tlsNode) {
	t.Helper()
	c, data, err := NodeCard(b.n, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.Add(data, AddOptions{Fingerprint: fingerprint(t, c)}); err != nil {
		t.Fatal(err)
	}
}

func (a *tlsNode) options(t *testing.T) TLSOptions {
	t.Helper()
	peers, err := StorePeers(a.store)
	if err != nil {
		t.Fatal(err)
	}
	return TLSOptions{Certificate: a.cert, Pins: peers}
}

type handshake struct {
	server, client tls.ConnectionState
	serverErr      error
	clientErr      error
	peer           string // the partner the server maps the client to
}

// dial runs a real TLS handshake over loopback TCP.
func dial(t *testing.T, serverCfg, clientCfg *tls.Config, pins Pins) handshake {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type result struct {
		cs   tls.ConnectionState
		peer string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		s := tls.Server(c, serverCfg)
		if err := s.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		cs := s.ConnectionState()
		peer, err := PeerPartner(cs, pins)
		// Echo the client's byte: the client learns whether the server
		// accepted it only from what follows its handshake.
		buf := make([]byte, 1)
		if _, err := s.Read(buf); err == nil {
			s.Write(buf)
		}
		done <- result{cs, peer, err}
	}()
	var h handshake
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := tls.Client(conn, clientCfg)
	h.clientErr = c.Handshake()
	if h.clientErr == nil {
		h.client = c.ConnectionState()
		if _, h.clientErr = c.Write([]byte{1}); h.clientErr == nil {
			_, h.clientErr = c.Read(make([]byte, 1))
		}
	}
	c.Close()
	r := <-done
	h.server, h.peer, h.serverErr = r.cs, r.peer, r.err
	return h
}

func TestMutualTLS(t *testing.T) {
	gbr := newTLSNode(t, "GBR", 1)
	fra := newTLSNode(t, "FRA", 2)
	deu := newTLSNode(t, "DEU", 3) // pins FRA, but FRA does not pin it
	gbr.pin(t, fra)
	fra.pin(t, gbr)
	deu.pin(t, fra)

	serverCfg, err := ServerConfig(fra.options(t))
	if err != nil {
		t.Fatal(err)
	}
	pins := fra.options(t).Pins
	client := func(n *tlsNode, partner string) *tls.Config {
		cfg, err := ClientConfig(n.options(t), partner)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}

	t.Run("pinned", func(t *testing.T) {
		h := dial(t, serverCfg, client(gbr, "FRA"), pins)
		if h.clientErr != nil || h.serverErr != nil {
			t.Fatalf("handshake GBR -> FRA: client %v, server %v; want success", h.clientErr, h.serverErr)
		}
		if h.server.Version != tls.VersionTLS13 || h.client.Version != tls.VersionTLS13 {
			t.Errorf("version = %#x; want TLS 1.3", h.server.Version)
		}
		if h.server.CurveID != tls.X25519MLKEM768 || h.client.CurveID != tls.X25519MLKEM768 {
			t.Errorf("CurveID = %v (server), %v (client); want %v", h.server.CurveID, h.client.CurveID, tls.X25519MLKEM768)
		}
		if h.peer != "GBR" {
			t.Errorf("PeerPartner = %q; want GBR", h.peer)
		}
		if got, err := PeerPartner(h.client, gbr.options(t).Pins); err != nil || got != "FRA" {
			t.Errorf("client side PeerPartner = %q, %v; want FRA", got, err)
		}
	})

	t.Run("unpinned client", func(t *testing.T) {
		h := dial(t, serverCfg, client(deu, "FRA"), pins)
		if !errors.Is(h.serverErr, ErrUnknownPeer) {
			t.Errorf("server handshake with unpinned DEU = %v; want %v", h.serverErr, ErrUnknownPeer)
		}
		if h.clientErr == nil {
			t.Error("client DEU completed a connection FRA refused")
		}
	})

	t.Run("server not the partner expected", func(t *testing.T) {
		// GBR dials what it believes is DEU, but FRA answers.
		gbr.pin(t, deu)
		h := dial(t, serverCfg, client(gbr, "DEU"), pins)
		if !errors.Is(h.clientErr, ErrUnknownPeer) {
			t.Errorf("client expecting DEU, FRA answered: %v; want %v", h.clientErr, ErrUnknownPeer)
		}
	})

	t.Run("TLS 1.2 client", func(t *testing.T) {
		cfg := client(gbr, "FRA")
		cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		cfg.CurvePreferences = nil
		h := dial(t, serverCfg, cfg, pins)
		if h.serverErr == nil || h.clientErr == nil {
			t.Errorf("TLS 1.2 handshake: client %v, server %v; want both to fail", h.clientErr, h.serverErr)
		} else if !strings.Contains(h.serverErr.Error(), "version") {
			t.Errorf("TLS 1.2 server error = %v; want a protocol version refusal", h.serverErr)
		}
	})

	t.Run("classical key exchange only", func(t *testing.T) {
		cfg := client(gbr, "FRA")
		cfg.CurvePreferences = []tls.CurveID{tls.X25519}
		h := dial(t, serverCfg, cfg, pins)
		if h.serverErr == nil {
			t.Errorf("handshake with X25519 only succeeded (CurveID %v); want a refusal", h.server.CurveID)
		}
	})
}

func TestConfigs(t *testing.T) {
	gbr := newTLSNode(t, "GBR", 1)
	cfg, err := ServerConfig(gbr.options(t))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion != tls.VersionTLS13 || cfg.ClientAuth != tls.RequireAnyClientCert || cfg.VerifyConnection == nil ||
		cfg.CurvePreferences[0] != tls.X25519MLKEM768 || cfg.ClientCAs != nil {
		t.Errorf("ServerConfig = %+v; want TLS 1.3, client certs required and pinned, X25519MLKEM768 first, no CA", cfg)
	}
	if _, err := ServerConfig(TLSOptions{Certificate: gbr.cert}); err == nil {
		t.Error("ServerConfig without pins = nil error; want a refusal")
	}
}
