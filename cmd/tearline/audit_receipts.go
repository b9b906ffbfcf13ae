package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

func newAuditReceiptsCmd(e *env) *cobra.Command {
	var (
		dir, partner string
		limit        int
	)
	cmd := &cobra.Command{
		Use:   "receipts [--partner CODE] [--limit N]",
		Short: "List the receipts of batches exchanged with partners",
		Long: `For every batch this node sent to or received from a partner, print this
node's own audit entry of it and the partner's: the partner's entry of
receiving it (for a batch sent) or of sending it (for a batch received),
with the size of the partner's signed checkpoint it was proved to be
included in. A receipt is "verified" once the partner's entry, its inclusion
proof and the partner's checkpoint signature all checked out; "pending"
while the node waits for the partner's next checkpoint; "REFUSED" when the
partner's answer did not verify, which raised an alert in the audit log.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, s, _, err := e.openLedger(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			rs, ok := s.(federation.ReceiptStore)
			if !ok {
				return fmt.Errorf("this node's store keeps no receipts")
			}
			list, err := rs.Receipts(ctx, mailbox.ReceiptQuery{Partner: strings.ToUpper(partner), Limit: limit})
			if err != nil {
				return err
			}
			if len(list) == 0 {
				fmt.Fprintln(e.stdout, "no receipts")
				return nil
			}
			counts := map[string]int{}
			fmt.Fprintf(e.stdout, "%-7s %-9s %8s %9s  %s\n", "PARTNER", "ROLE", "BATCH", "OWN ENTRY", "PARTNER'S ENTRY")
			for _, r := range list {
				var status string
				switch {
				case r.Failure != "":
					status = "REFUSED: " + r.Failure
					counts["refused"]++
				case r.Pending():
					status = "pending (recorded " + r.Recorded.UTC().Format(time.RFC3339) + ")"
					counts["pending"]++
				default:
					size := "?"
					if cp, err := ledger.ParseCheckpoint(checkpointBody(r.Checkpoint)); err == nil {
						size = fmt.Sprint(cp.Size)
					}
					status = fmt.Sprintf("%d, verified %s in its checkpoint of size %s", r.PartnerIndex, r.Verified.UTC().Format(time.RFC3339), size)
					counts["verified"]++
				}
				fmt.Fprintf(e.stdout, "%-7s %-9s %8d %9d  %s\n", r.Partner, r.Role, r.Through, r.Index, status)
			}
			fmt.Fprintf(e.stdout, "%d receipts: %d verified, %d pending, %d refused\n", len(list), counts["verified"], counts["pending"], counts["refused"])
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&partner, "partner", "", "only the receipts of batches with this partner")
	cmd.Flags().IntVar(&limit, "limit", 0, "print at most this many receipts (0: all)")
	return cmd
}

// checkpointBody is the text of a signed checkpoint before its signatures.
func checkpointBody(signed []byte) string {
	body, _, _ := strings.Cut(string(signed), "\n\n")
	return body + "\n"
}
