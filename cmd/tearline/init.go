package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/node"
)

func newInitCmd(e *env) *cobra.Command {
	var opts node.InitOptions
	var dir string
	cmd := &cobra.Command{
		Use:   "init --partner CODE --name NAME [--dir DIR]",
		Short: "Create a node directory: config, keys and database",
		Long: `Create a node directory: a commented config file (tearline.yaml), the node's
long-term keys (an Ed25519 signing key and an HPKE MLKEM768-X25519 key, private
files readable by their owner only) and the database with its schema and a
"default" collection.

It refuses to touch a directory that already holds a node, so keys that
partners have pinned are never replaced by accident.`,
		Example: `  tearline init --partner GBR --name "UK National Liaison Office" --dir ./gbr`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Partner == "" || opts.Name == "" {
				return usageError{fmt.Errorf("init needs --partner and --name (see 'tearline init --help')")}
			}
			created, err := node.Init(e.nodeDir(dir), opts)
			if err != nil {
				return err
			}
			// Load applies the environment overrides (a PostgreSQL URL in
			// TEARLINE_DATABASE_URL), so the database prepared is the one
			// the node will use.
			n, err := node.Load(created.Dir)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := openStore(ctx, n)
			if err != nil {
				return fmt.Errorf("node %s created, but its database could not be opened: %w", n.Dir, err)
			}
			defer s.Close()
			if err := ensureDefaultCollection(ctx, s); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Initialised node %s (%s) in %s\n", n.Config.Node.Partner, n.Config.Node.Name, n.Dir)
			fmt.Fprintf(e.stdout, "  signing key  ed25519               %s\n", n.SigningKeyID)
			fmt.Fprintf(e.stdout, "  sealing key  hpke-mlkem768-x25519  %s\n", n.HPKEKeyID)
			fmt.Fprintf(e.stdout, "  database     %s\n", n.Config.Database.Driver)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.Partner, "partner", "", "partner code: ISO 3166 alpha-3 trigraph (GBR) or organisation code")
	cmd.Flags().StringVar(&opts.Name, "name", "", "human-readable node name")
	addDirFlag(cmd, &dir)
	return cmd
}

func ensureDefaultCollection(ctx context.Context, s store) error {
	_, err := s.Collection(ctx, defaultCollection)
	if err == nil {
		return nil
	}
	_, err = s.CreateCollection(ctx, tearline.Collection{
		Alias: defaultCollection, Title: "Default collection",
		Description: "Objects imported without naming a collection",
	})
	if err != nil {
		return fmt.Errorf("create the default collection: %w", err)
	}
	return nil
}
