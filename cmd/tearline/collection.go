package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
)

// bannerStore keeps the collections' default labels.
type bannerStore interface {
	SetCollectionBanner(ctx context.Context, collection, banner string) error
	CollectionBanner(ctx context.Context, collection string) (string, error)
}

func bannerStoreOf(s store) (bannerStore, error) {
	b, ok := s.(bannerStore)
	if !ok {
		return nil, errors.New("this store keeps no collection labels")
	}
	return b, nil
}

// defaultBanner gives taxii.Config.DefaultBanner from the store.
func defaultBanner(s store) func(ctx context.Context, collection string) (string, error) {
	b, err := bannerStoreOf(s)
	if err != nil {
		return nil
	}
	return b.CollectionBanner
}

func newCollectionLabelCmd(e *env) *cobra.Command {
	var (
		dir   string
		clear bool
	)
	cmd := &cobra.Command{
		Use:   "label COLLECTION [BANNER | --clear]",
		Short: "Show or set the label given to objects written to a collection without markings",
		Long: `A collection's default label is given to the objects written to it (by
TAXII POST or 'tearline import') that carry no markings of their own and
come with no banner of their own. Without BANNER, the command shows it.`,
		Example: `  tearline collection label feeds "GBR OFFICIAL//REL TO GBR, FVEY"
  tearline collection label feeds --clear`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			c, err := s.Collection(ctx, args[0])
			if err != nil {
				return err
			}
			bs, err := bannerStoreOf(s)
			if err != nil {
				return err
			}
			if len(args) == 1 && !clear {
				b, err := bs.CollectionBanner(ctx, c.ID)
				if err != nil {
					return err
				}
				if b == "" {
					b = "(none: objects without markings stay unlabelled, and nothing is released from them)"
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", c.Alias, b)
				return nil
			}
			banner := ""
			if !clear {
				if len(args) != 2 {
					return usageError{errors.New("give a BANNER or --clear")}
				}
				l, err := label.Parse(args[1])
				if err != nil {
					return usageError{fmt.Errorf("banner: %w", err)}
				}
				if _, _, err := label.ToMarkings(l); err != nil {
					return usageError{fmt.Errorf("banner: %w", err)}
				}
				banner = label.Format(l)
			} else if len(args) == 2 {
				return usageError{errors.New("give a BANNER or --clear, not both")}
			}
			if err := bs.SetCollectionBanner(ctx, c.ID, banner); err != nil {
				return err
			}
			if banner == "" {
				fmt.Fprintf(e.stdout, "%s: default label removed\n", c.Alias)
			} else {
				fmt.Fprintf(e.stdout, "%s: objects without markings are labelled %s\n", c.Alias, banner)
			}
			return e.record(ctx, n, s, ledger.Event{Kind: ledger.KindLabelChanged, Subjects: []string{c.ID},
				Details: map[string]string{"collection-default": banner}})
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the collection's default label")
	return cmd
}
