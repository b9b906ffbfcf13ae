package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/node"
)

// Recall of an object this node originated (package federation): the
// notice is signed and queued in the store, and serve delivers it to every
// partner that was sent the object, with retries.

func newRecallCmd(e *env) *cobra.Command {
	var dir, reason string
	cmd := &cobra.Command{
		Use:   "recall OBJECT [--reason R] | recall status OBJECT",
		Short: "Recall an object this node originated from every partner that holds it",
		Long: `recall purges every version of OBJECT from this node (keeping a tombstone)
and queues a notice, signed with the node key, for every partner the object
was sent to; 'tearline serve' delivers it, and each partner purges the
object, passes the notice on, and acknowledges. It works with serve
stopped: the notices wait in the store. 'recall status OBJECT' lists who
has and has not acknowledged.`,
		Example: `  tearline recall indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f --reason "source compromised"
  tearline recall status indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			if args[0] == "status" {
				if len(args) != 2 {
					return usageError{errors.New("recall status needs the object's id")}
				}
				return recallStatus(cmd.Context(), e.stdout, n, args[1])
			}
			if len(args) != 1 {
				return usageError{errors.New("recall takes one object id (or 'status OBJECT')")}
			}
			return recallObject(cmd.Context(), e.stdout, n, args[0], reason)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "node directory")
	cmd.Flags().StringVar(&reason, "reason", "", "why the object is recalled, for the holders and the audit logs")
	return cmd
}

func recallStoreOf(s store) (mailbox.RecallStore, error) {
	rs, ok := s.(mailbox.RecallStore)
	if !ok {
		return nil, errors.New("this node's store keeps no recalls")
	}
	return rs, nil
}

// recallVersions recalls every version of id held in the default
// collection of s, as n's node, and returns the notices and their
// partners.
func recallVersions(ctx context.Context, s store, n *node.Node, id, reason, actor string) ([]*federation.RecallNotice, [][]string, error) {
	rs, err := recallStoreOf(s)
	if err != nil {
		return nil, nil, err
	}
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: defaultCollection, IDs: []string{id}, Version: tearline.VersionFilter{All: true}})
	if err != nil {
		return nil, nil, err
	}
	if len(page.Objects) == 0 {
		return nil, nil, fmt.Errorf("%s holds no %s in collection %s", n.Config.Node.Partner, id, defaultCollection)
	}
	signer := envelope.Signer{Code: n.Config.Node.Partner, KeyID: n.SigningKeyID, Key: n.SigningKey}
	var notices []*federation.RecallNotice
	var targets [][]string
	for i := range page.Objects {
		notice := "recall--" + rand.Text()
		r, t, err := federation.IssueRecall(ctx, rs, signer, actor, &page.Objects[i], reason, notice, time.Now())
		if err != nil {
			return notices, targets, err
		}
		notices, targets = append(notices, r), append(targets, t)
	}
	return notices, targets, nil
}

func recallObject(ctx context.Context, w io.Writer, n *node.Node, id, reason string) error {
	s, err := openStore(ctx, n)
	if err != nil {
		return err
	}
	defer s.Close()
	notices, targets, err := recallVersions(ctx, s, n, id, reason, n.Config.Node.Partner+" operator")
	for i, r := range notices {
		to := "no partner was sent it"
		if len(targets[i]) > 0 {
			to = fmt.Sprintf("queued for %v", targets[i])
		}
		fmt.Fprintf(w, "recalled %s version %s (notice %s): purged here; %s\n", r.Object, versionText(r.Version), r.Notice, to)
	}
	return err
}

func versionText(t time.Time) string {
	if t.IsZero() {
		return "(unversioned)"
	}
	return t.Format(time.RFC3339Nano)
}

func recallStatus(ctx context.Context, w io.Writer, n *node.Node, id string) error {
	s, err := openStore(ctx, n)
	if err != nil {
		return err
	}
	defer s.Close()
	rs, err := recallStoreOf(s)
	if err != nil {
		return err
	}
	recalls, err := rs.Recalls(ctx, id)
	if err != nil {
		return err
	}
	if len(recalls) == 0 {
		return fmt.Errorf("%s has not recalled %s", n.Config.Node.Partner, id)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NOTICE\tVERSION\tPARTNER\tACKNOWLEDGED\tPURGED\tDELIVERY")
	for _, r := range recalls {
		if len(r.Targets) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\tno partner was sent it\t\t\n", r.Notice, versionText(r.Version))
		}
		for _, t := range r.Targets {
			acked, purged := "not yet", "-"
			if !t.Acknowledged.IsZero() {
				acked, purged = t.Acknowledged.Format(time.RFC3339), fmt.Sprint(t.Purged)
			}
			delivery := "passed on by another holder"
			switch {
			case !t.Delivered.IsZero():
				delivery = "delivered " + t.Delivered.Format(time.RFC3339)
			case t.Error != "":
				delivery = "not delivered: " + t.Error
			case t.Acknowledged.IsZero():
				delivery = "queued"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Notice, versionText(r.Version), t.Partner, acked, purged, delivery)
		}
	}
	return tw.Flush()
}
