package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
)

// The consent workflow of the third-party rule (see federation.Workflow):
// a holder asks an object's originator for consent to pass it on; the
// originator's releaser approves or denies. Each command works on the
// node's store beside the running node and talks to the partner's node
// over mutual TLS, as 'tearline audit witness' does.

// consentWorkflow is the node's consent workflow on store s.
func consentWorkflow(n *node.Node, s store) (*federation.Workflow, error) {
	rel, err := nodeReleasing(n)
	if err != nil {
		return nil, err
	}
	return nodeWorkflow(n, s, rel)
}

// errNoRequests is nodeWorkflow's answer for a store that keeps no
// consent requests: a node without the workflow, not a failure.
var errNoRequests = errors.New("this store keeps no consent requests")

// nodeWorkflow is the node's consent workflow on store s, deciding with
// rel: it reaches partners directly, or through their hub.
func nodeWorkflow(n *node.Node, s store, rel *releasing) (*federation.Workflow, error) {
	st, ok := s.(federation.RequestRecords)
	if !ok {
		return nil, errNoRequests
	}
	signer := envelope.Signer{Code: n.Config.Node.Partner, KeyID: n.SigningKeyID, Key: n.SigningKey}
	cards := partner.NewStore(n.Dir, n.Config.Node.Partner)
	relay := &federation.HubRelay{Signer: signer, Partners: cards, Hubs: n.Config.Federation.Hubs,
		Via: n.Config.Federation.Via, Dial: partnerDialer(n)}
	return &federation.Workflow{
		Signer:     signer,
		Store:      st,
		Cards:      cards,
		Releaser:   rel.Releaser,
		Collection: defaultCollection,
		Dial:       partnerDialer(n),
		Relay:      relay.Post,
	}, nil
}

// partnerDialer reaches partners at the first endpoint of their pinned
// cards.
func partnerDialer(n *node.Node) federation.Dialer {
	return func(code string) (*http.Client, string, error) {
		pinned, err := partner.NewStore(n.Dir, n.Config.Node.Partner).Get(code)
		if err != nil {
			return nil, "", fmt.Errorf("%w (pin %s's card first)", err, code)
		}
		if len(pinned.Card.Endpoints) == 0 {
			return nil, "", fmt.Errorf("%s's card names no endpoint", code)
		}
		client, err := partnerHTTPClient(n, code)
		if err != nil {
			return nil, "", err
		}
		return client, pinned.Card.Endpoints[0], nil
	}
}

// withWorkflow opens the node in dir and runs do with its workflow.
func (e *env) withWorkflow(ctx context.Context, dir string, do func(*federation.Workflow) error) error {
	n, err := e.loadNode(dir)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, n)
	if err != nil {
		return err
	}
	defer s.Close()
	w, err := consentWorkflow(n, s)
	if err != nil {
		return err
	}
	err = do(w)
	if errors.Is(err, federation.ErrAwaitingAnswer) {
		// Through a hub: on its way, not failed; 'tearline release
		// requests' shows the partner's answer once serve has it.
		fmt.Fprintf(e.stdout, "sent through a hub, answer pending: %v\n", err)
		return nil
	}
	return err
}

func newReleaseRequestCmd(e *env) *cobra.Command {
	var dir, to, note string
	cmd := &cobra.Command{
		Use:   "request OBJECT-ID --to CODE [--note TEXT]",
		Short: "Ask an object's originator for consent to pass it to a third partner",
		Long: `Ask the originator of an object this node holds (ORCON, the third-party
rule) for consent to pass it to the partner --to names. The request goes to
the originator's node over mutual TLS and waits in its inbox for its
releaser; 'tearline release requests' shows where it stands. Once approved,
the signed consent is kept here and the object goes to the partner with it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageError{errors.New("give the partner to pass the object to: --to CODE")}
			}
			return e.withWorkflow(cmd.Context(), dir, func(w *federation.Workflow) error {
				r, err := w.Request(cmd.Context(), args[0], strings.ToUpper(to), note)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "request %s sent to %s: consent to pass %s to %s\n", r.ID, r.Originator, r.Object, r.Recipient)
				return nil
			})
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&to, "to", "", "the partner to pass the object to")
	cmd.Flags().StringVar(&note, "note", "", "a note for the originator's releaser")
	return cmd
}

func newReleaseRequestsCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "requests",
		Short: "List consent requests: those sent to this node (inbox) and by it (outbox)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withWorkflow(cmd.Context(), dir, func(w *federation.Workflow) error {
				return printRequests(cmd.Context(), e.stdout, w.Store)
			})
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

// printRequests writes both boxes of consent requests with their states.
func printRequests(ctx context.Context, out io.Writer, st mailbox.RequestStore) error {
	for _, box := range []mailbox.RequestBox{mailbox.RequestInbox, mailbox.RequestOutbox} {
		rs, err := st.Requests(ctx, box)
		if err != nil {
			return err
		}
		title := "INBOX (requests to this node, as originator)"
		if box == mailbox.RequestOutbox {
			title = "OUTBOX (requests of this node, as holder)"
		}
		fmt.Fprintf(out, "%s: %d\n", title, len(rs))
		if len(rs) == 0 {
			continue
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tOBJECT\tHOLDER\tORIGINATOR\tTO\tSTATE\tNOTE")
		for _, r := range rs {
			state := string(r.State)
			if !r.Decided.IsZero() {
				state += " " + r.Decided.Format(time.RFC3339)
			}
			switch {
			case r.DeliveryError != "":
				state += " (not delivered: " + r.DeliveryError + ")"
			case r.Delivered.IsZero() && (box == mailbox.RequestOutbox || r.State != mailbox.RequestPending):
				state += " (not delivered)"
			}
			note := r.Note
			if r.Reason != "" {
				note = strings.TrimSpace(note + " / reason: " + r.Reason)
			}
			if note == "" {
				note = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Object, r.Requester, r.Originator, r.Recipient, state, note)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

func newReleaseApproveCmd(e *env) *cobra.Command {
	var (
		dir     string
		expires time.Duration
	)
	cmd := &cobra.Command{
		Use:   "approve REQUEST-ID [--expires DURATION]",
		Short: "Approve a consent request to this node: sign the consent and send it to the holder",
		Long: `Approve a request in this node's inbox: the object must be this node's
information and released to the requester. The consent record is signed
with the node's key, kept with the decision in the audit log, and sent to
the requester's node, which passes the object on with it. --expires bounds
how long the consent holds (default: it does not lapse). When the answer
does not reach the requester, the running node ('tearline serve') delivers
it again every 30 seconds; running the command again retries at once.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if expires < 0 {
				return usageError{errors.New("--expires must be positive")}
			}
			return e.withWorkflow(cmd.Context(), dir, func(w *federation.Workflow) error {
				r, err := w.Approve(cmd.Context(), args[0], expires)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "request %s approved: %s may pass %s to %s; the consent reached %s\n", r.ID, r.Requester, r.Object, r.Recipient, r.Requester)
				return nil
			})
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().DurationVar(&expires, "expires", 0, "how long the consent holds, e.g. 720h (default: it does not lapse)")
	return cmd
}

func newReleaseDenyCmd(e *env) *cobra.Command {
	var dir, reason string
	cmd := &cobra.Command{
		Use:   "deny REQUEST-ID [--reason TEXT]",
		Short: "Deny a consent request to this node and send the signed denial to the holder",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.withWorkflow(cmd.Context(), dir, func(w *federation.Workflow) error {
				r, err := w.Deny(cmd.Context(), args[0], reason)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "request %s denied: %s may not pass %s to %s; the denial reached %s\n", r.ID, r.Requester, r.Object, r.Recipient, r.Requester)
				return nil
			})
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&reason, "reason", "", "the reason, for the requester")
	return cmd
}
