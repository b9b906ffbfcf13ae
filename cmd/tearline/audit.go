package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/postgres"
	"github.com/tearline/tearline/sqlite"
)

// nodeLedger is the node's audit log, kept in its database.
func nodeLedger(s store) (ledger.Storage, error) {
	switch x := s.(type) {
	case *sqlite.Store:
		return x.Ledger(), nil
	case *postgres.Store:
		return x.Ledger(), nil
	}
	return nil, errors.New("this node's store keeps no audit log")
}

// openLedger opens the node in dir, its store and the audit log kept in it.
func (e *env) openLedger(ctx context.Context, dir string) (*node.Node, store, ledger.Storage, error) {
	n, s, err := e.openNode(ctx, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	st, err := nodeLedger(s)
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return n, s, st, nil
}

// logOrigin names the node's log in its checkpoints.
func logOrigin(n *node.Node) string { return "tearline/" + n.Config.Node.Partner }

// record appends ev to the node's audit log. The operator actions it
// records change files of the node directory, not its database, so the
// event follows the change rather than sharing its transaction.
func (e *env) record(ctx context.Context, n *node.Node, s store, ev ledger.Event) error {
	return recordEvent(ctx, n, s, ev)
}

// recordEvent appends ev to the node's audit log, as its operator's
// unless ev names another actor.
func recordEvent(ctx context.Context, n *node.Node, s store, ev ledger.Event) error {
	st, err := nodeLedger(s)
	if err != nil {
		return err
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.Actor == "" {
		ev.Actor = n.Config.Node.Partner + " operator"
	}
	l := ledger.New(st)
	for try := 0; ; try++ {
		_, err = l.Append(ctx, ev)
		if !errors.Is(err, ledger.ErrConflict) || try == 4 {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// recordIn opens the node's store to record ev, for commands that work on
// the node directory alone.
func (e *env) recordIn(ctx context.Context, n *node.Node, ev ledger.Event) error {
	s, err := openStore(ctx, n)
	if err != nil {
		return fmt.Errorf("not recorded in the audit log: %w", err)
	}
	defer s.Close()
	return e.record(ctx, n, s, ev)
}

func newAuditCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Read, checkpoint and verify the node's tamper-evident audit log",
		Long: `The audit log is an append-only Merkle log (RFC 6962) of the node's state
changes; checkpoints are signed notes that partners can cosign. Recorded so
far: agreements added, envelopes sealed for partners and envelopes received.`,
	}
	var (
		dir                                 string
		limit                               int
		kinds, subjectsOf, actors, partners []string
		since, until                        string
	)
	logCmd := &cobra.Command{
		Use:   "log [--kind K] [--object ID] [--actor A] [--partner CODE] [--since T] [--until T] [--limit N]",
		Short: "Query the audit log",
		Long: `Print the audit log's entries, newest last, that match every filter given:
--kind (object-ingested, envelope-sent, agreement-changed, key-rotated, ...),
--object (an object, agreement or key id among the entry's subjects),
--actor (who caused it), --partner (a partner code in the entry's actor or
details), --since and --until (RFC 3339 times). Each filter may be repeated;
values of one filter are alternatives.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var from, to time.Time
			var err error
			if since != "" {
				if from, err = time.Parse(time.RFC3339, since); err != nil {
					return usageError{fmt.Errorf("--since: %w", err)}
				}
			}
			if until != "" {
				if to, err = time.Parse(time.RFC3339, until); err != nil {
					return usageError{fmt.Errorf("--until: %w", err)}
				}
			}
			ctx := cmd.Context()
			_, s, st, err := e.openLedger(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			l := ledger.New(st)
			size, err := l.Size(ctx)
			if err != nil {
				return err
			}
			match := func(ev ledger.Event) bool {
				if len(kinds) > 0 && !slices.Contains(kinds, string(ev.Kind)) {
					return false
				}
				if len(actors) > 0 && !slices.Contains(actors, ev.Actor) {
					return false
				}
				if len(subjectsOf) > 0 && !slices.ContainsFunc(ev.Subjects, func(s string) bool { return slices.Contains(subjectsOf, s) }) {
					return false
				}
				if len(partners) > 0 {
					hit := false
					for _, p := range partners {
						hit = hit || strings.HasPrefix(ev.Actor, p) || ev.Details["recipient"] == p || ev.Details["sender"] == p
					}
					if !hit {
						return false
					}
				}
				return (from.IsZero() || !ev.Time.Before(from)) && (to.IsZero() || ev.Time.Before(to))
			}
			// Newest first while collecting, so --limit keeps the newest.
			var hits []string
			for i := size; i > 0 && (limit <= 0 || len(hits) < limit); i-- {
				data, err := l.Entry(ctx, i-1)
				if err != nil {
					return err
				}
				ev, err := ledger.DecodeEvent(data)
				if err != nil {
					return fmt.Errorf("entry %d: %w", i-1, err)
				}
				if match(ev) {
					hits = append(hits, fmt.Sprintf("%6d  %s  %-18s %-14s %s%s", i-1, ev.Time.Format(time.RFC3339), ev.Kind, ev.Actor,
						subjects(ev.Subjects), details(ev.Details)))
				}
			}
			for i := len(hits) - 1; i >= 0; i-- {
				fmt.Fprintln(e.stdout, hits[i])
			}
			if len(hits) == 0 {
				fmt.Fprintf(e.stdout, "no entry of the %d in the audit log matches\n", size)
			}
			return nil
		},
	}
	addDirFlag(logCmd, &dir)
	logCmd.Flags().IntVar(&limit, "limit", 50, "print at most this many entries, the newest (0: all)")
	logCmd.Flags().StringSliceVar(&kinds, "kind", nil, "only entries of this kind")
	logCmd.Flags().StringSliceVar(&subjectsOf, "object", nil, "only entries about this object, agreement or key id")
	logCmd.Flags().StringSliceVar(&actors, "actor", nil, "only entries caused by this actor")
	logCmd.Flags().StringSliceVar(&partners, "partner", nil, "only entries involving this partner")
	logCmd.Flags().StringVar(&since, "since", "", "only entries at or after this time (RFC 3339)")
	logCmd.Flags().StringVar(&until, "until", "", "only entries before this time (RFC 3339)")

	var cpDir string
	checkpoint := &cobra.Command{
		Use:   "checkpoint",
		Short: "Sign and store a checkpoint of the audit log, and print it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, st, err := e.openLedger(ctx, cpDir)
			if err != nil {
				return err
			}
			defer s.Close()
			signed, err := ledger.New(st).Checkpoint(ctx, ledger.NewSigner(logOrigin(n), n.SigningKey))
			if err != nil {
				return err
			}
			e.stdout.Write(signed)
			return nil
		},
	}
	addDirFlag(checkpoint, &cpDir)

	var vDir string
	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the whole audit log and check every entry and checkpoint",
		Long: `Recompute the audit log from its stored entries, check every stored hash and
every stored checkpoint against the node's current signing key, and say
exactly which entry is wrong if one is.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, st, err := e.openLedger(ctx, vDir)
			if err != nil {
				return err
			}
			defer s.Close()
			// Checkpoints made before a rotation are signed by the key
			// current then; a revoked key is trusted for nothing.
			var keys []ed25519.PublicKey
			for _, k := range n.Keys() {
				if k.Kind == node.KindSigning && k.Status != node.StatusRevoked {
					keys = append(keys, k.Signing)
				}
			}
			if err := ledger.Verify(ctx, st, ledger.NewVerifiers(logOrigin(n), keys...)...); err != nil {
				return fmt.Errorf("audit log does NOT verify: %w", err)
			}
			size, err := st.Size(ctx)
			if err != nil {
				return err
			}
			cps, err := st.Checkpoints(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "audit log verified: %d entries, %d checkpoints\n", size, len(cps))
			return nil
		},
	}
	addDirFlag(verify, &vDir)
	var pDir string
	var from, to uint64
	proof := &cobra.Command{
		Use:   "proof [INDEX] [--from M --to N]",
		Short: "Print and check an inclusion proof for an entry, or a consistency proof between two sizes",
		Long: `With INDEX, print the inclusion proof of that entry in the log as it is now
(the root and size it proves against, and the path), after checking it.
With --from M --to N, print the consistency proof between the log's sizes M
and N, after checking it: what a partner needs to trust that the log at N
extends the log it saw at M.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, s, st, err := e.openLedger(ctx, pDir)
			if err != nil {
				return err
			}
			defer s.Close()
			l := ledger.New(st)
			size, err := l.Size(ctx)
			if err != nil {
				return err
			}
			if len(args) == 1 {
				var index uint64
				if _, err := fmt.Sscanf(args[0], "%d", &index); err != nil || fmt.Sprint(index) != args[0] {
					return usageError{fmt.Errorf("INDEX %q is not an entry number", args[0])}
				}
				if index >= size {
					return fmt.Errorf("the log has %d entries; there is no entry %d", size, index)
				}
				entry, err := l.Entry(ctx, index)
				if err != nil {
					return err
				}
				root, err := l.Root(ctx, size)
				if err != nil {
					return err
				}
				path, err := l.InclusionProof(ctx, index, size)
				if err != nil {
					return err
				}
				if err := ledger.VerifyInclusion(entry, index, size, root, path); err != nil {
					return fmt.Errorf("the inclusion proof does not verify: %w", err)
				}
				fmt.Fprintf(e.stdout, "entry %d of %d, root %x\nleaf %x\n", index, size, root, ledger.LeafHash(entry))
				for _, h := range path {
					fmt.Fprintf(e.stdout, "path %x\n", h)
				}
				return nil
			}
			if to == 0 {
				to = size
			}
			if from == 0 || from > to || to > size {
				return usageError{fmt.Errorf("give INDEX, or --from M --to N with 0 < M <= N <= %d (the log's size)", size)}
			}
			rootM, err := l.Root(ctx, from)
			if err != nil {
				return err
			}
			rootN, err := l.Root(ctx, to)
			if err != nil {
				return err
			}
			path, err := l.ConsistencyProof(ctx, from, to)
			if err != nil {
				return err
			}
			if err := ledger.VerifyConsistency(from, to, rootM, rootN, path); err != nil {
				return fmt.Errorf("the consistency proof does not verify: %w", err)
			}
			fmt.Fprintf(e.stdout, "size %d root %x\nsize %d root %x\n", from, rootM, to, rootN)
			for _, h := range path {
				fmt.Fprintf(e.stdout, "path %x\n", h)
			}
			return nil
		},
	}
	addDirFlag(proof, &pDir)
	proof.Flags().Uint64Var(&from, "from", 0, "older log size, for a consistency proof")
	proof.Flags().Uint64Var(&to, "to", 0, "newer log size (default: the log's size now)")

	cmd.AddCommand(logCmd, checkpoint, verify, proof, newAuditWitnessCmd(e), newAuditReceiptsCmd(e))
	return cmd
}

func subjects(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1, 2, 3:
		return strings.Join(s, " ")
	}
	return fmt.Sprintf("%s %s and %d more", s[0], s[1], len(s)-2)
}

func details(d map[string]string) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+d[k])
	}
	return "  (" + strings.Join(parts, ", ") + ")"
}
