package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
)

// Federation with partner nodes (package federation): serve mounts the sync
// API beside TAXII, on the same mutual-TLS listener, and keeps a link with
// every pinned partner whose card names an endpoint.

// newFederation makes the node's federation service and mounts its sync API
// on mux, and the hub's when the node is a community hub. It returns nil,
// with no error, for a store that keeps no federation state.
func newFederation(mux *http.ServeMux, n *node.Node, s store, rel *releasing, pins partner.Pins, logger *slog.Logger) (*federation.Node, *federation.Hub, error) {
	fs, ok := s.(federation.Store)
	if !ok {
		return nil, nil, nil
	}
	st, err := nodeLedger(s)
	if err != nil {
		return nil, nil, err
	}
	cert, err := n.TLSCertificate()
	if err != nil {
		return nil, nil, err
	}
	fed, err := federation.New(federation.Config{
		Signer:     envelope.Signer{Code: n.Config.Node.Partner, KeyID: n.SigningKeyID, Key: n.SigningKey},
		HPKEKeyID:  n.HPKEKeyID,
		HPKEKey:    n.HPKEKey,
		Partners:   partner.NewStore(n.Dir, n.Config.Node.Partner),
		TLS:        partner.TLSOptions{Certificate: cert, Pins: pins},
		Releaser:   rel.Releaser,
		Store:      fs,
		Ledger:     st,
		Collection: defaultCollection,
		Logger:     logger,
		Hubs:       n.Config.Federation.Hubs,
		Via:        n.Config.Federation.Via,
		// Receipts wait for partners' checkpoints, signed every
		// checkpointInterval.
		ReceiptInterval: 2 * checkpointInterval,
		// Zero keeps the federation's default.
		PollInterval: n.Config.Federation.Poll(),
		Witness:      &hubWitness{n: n, log: ledger.New(st), st: st, logger: logger},
	})
	if err != nil {
		return nil, nil, err
	}
	fed.Mount(mux)
	if !n.Config.Federation.Hub {
		return fed, nil, nil
	}
	hs, ok := s.(mailbox.HubStore)
	if !ok {
		return nil, nil, errors.New("federation.hub: this node's store cannot hold a hub's mailbox (use SQLite or PostgreSQL)")
	}
	hub, err := federation.NewHub(federation.HubConfig{Members: partner.NewStore(n.Dir, n.Config.Node.Partner),
		TLS: partner.TLSOptions{Certificate: cert, Pins: pins}, Store: hs, Logger: logger})
	if err != nil {
		return nil, nil, err
	}
	hub.Mount(mux)
	return fed, hub, nil
}

// runFederation keeps the node's links until ctx ends.
func (ns *nodeServer) runFederation(ctx context.Context) {
	if ns.federation == nil {
		return
	}
	if ns.hub != nil {
		// Run returns when ctx ends: the hub's notifications stop then.
		defer ns.hub.Close()
	}
	if err := ns.federation.Run(ctx); err != nil {
		ns.logger.Error("federation", "err", err)
	}
}

// printLinks writes the state of the node's federation links, as its store
// keeps it: what each partner has yet to apply of its outbox here, how far
// this node applied the partner's, when each side last worked, and its last
// error since. Nothing is written for a store without federation state.
func printLinks(ctx context.Context, w io.Writer, n *node.Node) error {
	s, err := openStore(ctx, n)
	if err != nil {
		return fmt.Errorf("link state: %w", err)
	}
	defer s.Close()
	ls, ok := s.(federation.LinkStore)
	if !ok {
		return nil
	}
	states, err := federation.States(ctx, ls)
	if err != nil {
		return fmt.Errorf("link state: %w", err)
	}
	if len(states) == 0 {
		return nil
	}
	when := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.Format(time.RFC3339)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LINK\tTO SEND\tLAST SERVED\tTO RECEIVE\tLAST RECEIVED\tLAST ERROR")
	for _, st := range states {
		last := "-"
		switch {
		case st.SendError != "" && (st.ReceiveError == "" || st.SendErrorAt.After(st.ReceiveErrorAt)):
			last = fmt.Sprintf("%s sending: %s", st.SendErrorAt.Format(time.RFC3339), st.SendError)
		case st.ReceiveError != "":
			last = fmt.Sprintf("%s receiving: %s", st.ReceiveErrorAt.Format(time.RFC3339), st.ReceiveError)
		}
		fmt.Fprintf(tw, "%s\t%d (%d of %d acknowledged)\t%s\t%d (applied through %d)\t%s\t%s\n", st.Partner,
			st.OutLag, st.OutAcked, st.OutHead, when(st.LastServed), st.InLag, st.InThrough, when(st.LastReceived), last)
	}
	return tw.Flush()
}
