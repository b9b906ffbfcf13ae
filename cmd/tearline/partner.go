package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/partner"
)

func newPartnerCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "partner",
		Short: "Exchange and pin partner cards",
		Long: `Partners trust each other's nodes through partner cards: signed statements
of a node's partner code, keys, TLS certificate and endpoints. Print yours
with 'tearline partner card', give it to the partner, and compare its
fingerprint with them out of band (phone, meeting); pin theirs with
'tearline partner add CARDFILE --fingerprint F'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError{fmt.Errorf("partner needs a subcommand: card, add or list (see 'tearline partner --help')")}
		},
	}
	cmd.AddCommand(newPartnerCardCmd(e), newPartnerAddCmd(e), newPartnerListCmd(e))
	return cmd
}

func newPartnerCardCmd(e *env) *cobra.Command {
	var dir string
	var endpoints []string
	cmd := &cobra.Command{
		Use:     "card [--endpoint URL]... [--dir DIR]",
		Short:   "Print this node's signed partner card, and its fingerprint on stderr",
		Example: `  tearline partner card --endpoint https://tearline.gbr.example:8443 > gbr.card`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, ep := range endpoints {
				if err := partner.CheckEndpoint(ep); err != nil {
					return usageError{fmt.Errorf("--endpoint: %w", err)}
				}
			}
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			c, data, err := partner.NodeCard(n, endpoints, time.Now())
			if err != nil {
				return err
			}
			fp, err := c.Fingerprint()
			if err != nil {
				return err
			}
			if _, err := e.stdout.Write(data); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "Card of %s, fingerprint:\n  %s\nRead it to the partner out of band; they pin it with\n  tearline partner add CARDFILE --fingerprint %s\n", c.Partner, fp, fp)
			if len(c.Signatures) > 1 {
				fmt.Fprintf(e.stderr, "It is also signed by the previous signing key %s: partners who pinned that key accept it without the fingerprint.\n", c.Signatures[1].KeyID)
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&endpoints, "endpoint", nil, "https URL partners reach this node at (repeatable)")
	addDirFlag(cmd, &dir)
	return cmd
}

func newPartnerAddCmd(e *env) *cobra.Command {
	var dir, fingerprint string
	var replace bool
	cmd := &cobra.Command{
		Use:   "add CARDFILE [--fingerprint F] [--replace] [--dir DIR]",
		Short: "Verify a partner's card and pin it",
		Long: `Verify a partner's card and pin it in partners/<CODE>.json.

A new partner needs --fingerprint, compared with the partner out of band. A
newer card of a pinned partner is accepted without one if it is signed by the
pinned signing key (a key rotation). A card not signed by the pinned key
replaces the pinned one only with --fingerprint and --replace. Replaced cards
are kept in partners/archive/.`,
		Example: `  tearline partner add fra.card --fingerprint SHA256:1a2b:3c4d:...`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("add needs one card file (see 'tearline partner add --help')")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if replace && fingerprint == "" {
				return usageError{fmt.Errorf("--replace needs --fingerprint: a card that is not signed by the pinned key is trusted only on its fingerprint")}
			}
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			s := partner.NewStore(n.Dir, n.Config.Node.Partner)
			res, err := s.Add(data, partner.AddOptions{Fingerprint: fingerprint, Replace: replace})
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			c := res.Card
			switch {
			case res.Unchanged:
				fmt.Fprintf(e.stdout, "%s (%s) is already pinned with this card, %s.\n", c.Partner, c.Name, res.Fingerprint)
			case res.Rotation:
				fmt.Fprintf(e.stdout, "Updated %s (%s): the card is signed by the pinned key %s; signing key now %s.\n  fingerprint %s (was %s)\n",
					c.Partner, c.Name, res.Previous.Card.SigningKey.ID, c.SigningKey.ID, res.Fingerprint, res.Previous.Fingerprint)
			case res.Previous != nil:
				fmt.Fprintf(e.stdout, "Replaced the pinned card of %s (%s) on its fingerprint %s (was %s).\n", c.Partner, c.Name, res.Fingerprint, res.Previous.Fingerprint)
			default:
				fmt.Fprintf(e.stdout, "Pinned %s (%s), fingerprint %s.\n", c.Partner, c.Name, res.Fingerprint)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&fingerprint, "fingerprint", "", "the card's fingerprint, as compared with the partner out of band")
	cmd.Flags().BoolVar(&replace, "replace", false, "replace a pinned card that is not signed by the pinned key")
	addDirFlag(cmd, &dir)
	return cmd
}

func newPartnerListCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "list [--dir DIR]",
		Short: "List pinned partners with their card fingerprints and the state of their links",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			pinned, err := partner.NewStore(n.Dir, n.Config.Node.Partner).List()
			if err != nil {
				return err
			}
			if len(pinned) == 0 {
				fmt.Fprintln(e.stdout, "No partners pinned yet (see 'tearline partner add').")
				return nil
			}
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "PARTNER\tNAME\tSIGNING KEY\tISSUED\tFINGERPRINT")
			for _, p := range pinned {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", p.Card.Partner, p.Card.Name, p.Card.SigningKey.ID,
					p.Card.Issued.Format(time.RFC3339), p.Fingerprint)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			return printLinks(cmd.Context(), e.stdout, n) // federation link state (serve_federation.go)
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}
