package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
)

func newAuditWitnessCmd(e *env) *cobra.Command {
	var dir, endpoint string
	cmd := &cobra.Command{
		Use:   "witness PARTNER [--endpoint URL]",
		Short: "Check a partner's audit log against what this node saw before, and cosign it",
		Long: `Fetch the partner's newest checkpoint over mutual TLS, verify it with the
signing key on its pinned card, and check that it extends the last
checkpoint of that partner this node witnessed (a consistency proof fetched
from the partner). A consistent checkpoint is cosigned with this node's key
and kept as the new last seen. Two checkpoints that cannot both be true are
a split view: both are kept as evidence in witnessed/, and the command fails.
A partner reached only through a hub is witnessed by tearline serve, its
checkpoint asked for and its cosignature given back through the hub.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := strings.ToUpper(args[0])
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			if hub, err := hubOf(n, code); err != nil {
				return err
			} else if hub != "" && endpoint == "" {
				return usageError{fmt.Errorf("%s is reached through hub %s: tearline serve witnesses its log through the hub; give --endpoint https://HOST:PORT to witness it directly", code, hub)}
			}
			size, err := witnessOnce(n, code, endpoint)
			var sv *splitViewError
			if errors.As(err, &sv) && sv.new {
				if rerr := e.recordIn(cmd.Context(), n, splitViewEvent(n, sv)); rerr != nil {
					return errors.Join(err, rerr)
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s's audit log at size %d is consistent with what this node saw before; cosigned\n", code, size)
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&endpoint, "endpoint", "", "the partner's node URL (default: the first endpoint on its card)")
	return cmd
}

// witnessOnce checks partner code's newest checkpoint against the last one
// this node witnessed, cosigns it, keeps it and gives the cosignature back.
// A fork is a *ledger.SplitView, whose evidence is kept in witnessed/.
func witnessOnce(n *node.Node, code, endpoint string) (uint64, error) {
	pinned, err := partner.NewStore(n.Dir, n.Config.Node.Partner).Get(code)
	if err != nil {
		return 0, fmt.Errorf("%w (pin %s's card first)", err, code)
	}
	if endpoint == "" {
		if len(pinned.Card.Endpoints) == 0 {
			return 0, usageError{fmt.Errorf("%s's card names no endpoint; give --endpoint https://HOST:PORT", code)}
		}
		endpoint = pinned.Card.Endpoints[0]
	}
	endpoint = strings.TrimRight(endpoint, "/")
	client, err := partnerHTTPClient(n, code)
	if err != nil {
		return 0, err
	}
	logKey := partnerLogKey(pinned)
	signed, err := fetch(client, endpoint+"/ledger/checkpoint")
	if err != nil {
		return 0, err
	}
	cp, _, err := ledger.OpenCheckpoint(signed, logKey)
	if err != nil {
		return 0, fmt.Errorf("%s's checkpoint: %w", code, err)
	}
	prev, prevSize, err := readWitnessed(n, code, logKey)
	if err != nil {
		return 0, err
	}
	var proof [][]byte
	if prevSize > 0 && prevSize < cp.Size {
		body, err := fetch(client, fmt.Sprintf("%s/ledger/proof/consistency?from=%d&to=%d", endpoint, prevSize, cp.Size))
		if err != nil {
			return 0, err
		}
		var hexes []string
		if err := json.Unmarshal(body, &hexes); err != nil {
			return 0, fmt.Errorf("%s's consistency proof: %w", code, err)
		}
		if proof, err = federation.ParseHexHashes(hexes); err != nil {
			return 0, fmt.Errorf("%s's consistency proof: %w", code, err)
		}
	}
	cosigned, err := keepWitnessed(n, code, logKey, signed, prev, proof)
	if err != nil {
		return 0, err
	}
	// Give the cosignature back: the partner keeps it as proof that its
	// history was seen.
	resp, err := client.Post(endpoint+"/ledger/cosignature", "text/plain; charset=utf-8", bytes.NewReader(cosigned))
	if err != nil {
		return cp.Size, fmt.Errorf("return the cosignature to %s: %w", code, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return cp.Size, fmt.Errorf("return the cosignature to %s: %s", code, resp.Status)
	}
	return cp.Size, nil
}

// hubOf returns the hub through which the node reaches partner code, or
// "" when it reaches it directly.
func hubOf(n *node.Node, code string) (string, error) {
	pinned, err := partner.NewStore(n.Dir, n.Config.Node.Partner).List()
	if err != nil {
		return "", err
	}
	routes, _ := federation.HubRoutes(pinned, n.Config.Node.Partner, n.Config.Federation.Hubs, n.Config.Federation.Via)
	return routes[code], nil
}

// partnerLogKey is the verifier of a partner's checkpoints, from its
// pinned card.
func partnerLogKey(p *partner.Pinned) note.Verifier {
	return ledger.NewVerifier("tearline/"+p.Card.Partner, ed25519.PublicKey(p.Card.SigningKey.Public))
}

// witnessedFile is where the last checkpoint of partner code this node
// witnessed is kept.
func witnessedFile(n *node.Node, code string) string {
	return filepath.Join(n.Dir, "witnessed", code+".checkpoint")
}

// readWitnessed returns the last checkpoint of partner code this node
// witnessed, and its size; nil and 0 if none.
func readWitnessed(n *node.Node, code string, logKey note.Verifier) ([]byte, uint64, error) {
	seenFile := witnessedFile(n, code)
	prev, err := os.ReadFile(seenFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	p, _, err := ledger.OpenCheckpoint(prev, logKey)
	if err != nil {
		return nil, 0, fmt.Errorf("the checkpoint of %s seen before (%s): %w", code, seenFile, err)
	}
	return prev, p.Size, nil
}

// keepWitnessed checks partner code's signed checkpoint against prev, the
// last one witnessed (nil for none), with the consistency proof between
// the two, cosigns it and keeps it as the last witnessed. A fork is a
// *splitViewError, whose evidence is kept in witnessed/.
func keepWitnessed(n *node.Node, code string, logKey note.Verifier, signed, prev []byte, proof [][]byte) ([]byte, error) {
	w := ledger.Witness{Log: logKey, Signer: ledger.NewCosigner("tearline/"+n.Config.Node.Partner, n.SigningKey, time.Now)}
	cosigned, err := w.Cosign(signed, prev, proof)
	var split *ledger.SplitView
	if errors.As(err, &split) {
		// The evidence is named by its content: the same fork seen again
		// is the same file, and raises no new alert.
		pair := append(append(append([]byte{}, prev...), "\n\n"...), signed...)
		sum := sha256.Sum256(pair)
		evidence := filepath.Join(n.Dir, "witnessed", fmt.Sprintf("%s.splitview-%x", code, sum[:8]))
		_, statErr := os.Stat(evidence)
		if errors.Is(statErr, os.ErrNotExist) {
			if werr := os.WriteFile(evidence, pair, 0o600); werr != nil {
				return nil, fmt.Errorf("SPLIT VIEW of %s, and its evidence could not be kept in %s: %w", code, evidence, werr)
			}
		}
		return nil, &splitViewError{partner: code, evidence: evidence, new: statErr != nil, err: err}
	}
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", code, err)
	}
	seenFile := witnessedFile(n, code)
	if err := os.MkdirAll(filepath.Dir(seenFile), 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(seenFile+".tmp", cosigned, 0o600); err != nil {
		return nil, err
	}
	if err := os.Rename(seenFile+".tmp", seenFile); err != nil {
		return nil, err
	}
	return cosigned, nil
}

// splitViewError is a partner's split view: it showed this node a
// checkpoint that cannot extend one it showed before.
type splitViewError struct {
	partner, evidence string
	new               bool // the evidence was not seen before
	err               error
}

func (e *splitViewError) Error() string {
	return fmt.Sprintf("SPLIT VIEW: %s showed this node a checkpoint that cannot extend the one it showed before (%v); evidence kept in %s", e.partner, e.err, e.evidence)
}

func (e *splitViewError) Unwrap() error { return e.err }

// splitViewEvent is the audit record of the alert.
func splitViewEvent(n *node.Node, e *splitViewError) ledger.Event {
	return ledger.Event{Kind: ledger.KindAlertRaised, Time: time.Now().UTC(), Actor: n.Config.Node.Partner + " witness",
		Subjects: []string{e.partner}, Details: map[string]string{"alert": "split-view", "evidence": filepath.Base(e.evidence), "error": e.err.Error()}}
}

func partnerHTTPClient(n *node.Node, code string) (*http.Client, error) {
	cert, err := n.TLSCertificate()
	if err != nil {
		return nil, err
	}
	pins, err := partner.StorePeers(partner.NewStore(n.Dir, n.Config.Node.Partner))
	if err != nil {
		return nil, err
	}
	cfg, err := partner.ClientConfig(partner.TLSOptions{Certificate: cert, Pins: pins}, code)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}, nil
}

// fetch GETs url and returns the body of a 200 answer, at most 1 MiB.
func fetch(c *http.Client, url string) ([]byte, error) {
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
