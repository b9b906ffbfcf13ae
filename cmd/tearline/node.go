package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/postgres"
	"github.com/tearline/tearline/sqlite"
)

// defaultCollection is the collection init creates and commands use unless
// told otherwise.
const defaultCollection = "default"

// addDirFlag registers --dir on cmd.
func addDirFlag(cmd *cobra.Command, dir *string) {
	cmd.Flags().StringVar(dir, "dir", "", "node directory (default $TEARLINE_DIR, else the current directory)")
}

func (e *env) nodeDir(flag string) string {
	if flag != "" {
		return flag
	}
	if d := e.getenv("TEARLINE_DIR"); d != "" {
		return d
	}
	return "."
}

// store is an open object store.
type store = tearline.ObjectStore

// backuper is a store that can copy itself consistently while in use.
type backuper interface {
	Backup(ctx context.Context, dest string) error
}

// openNode loads the node directory and opens its store.
func (e *env) openNode(ctx context.Context, dirFlag string) (*node.Node, store, error) {
	n, err := node.Load(e.nodeDir(dirFlag))
	if err != nil {
		if errors.Is(err, node.ErrNotInitialised) {
			return nil, nil, fmt.Errorf("%w\n(create a node with 'tearline init --partner CODE --name NAME --dir DIR', or point --dir at one)", err)
		}
		return nil, nil, err
	}
	s, err := openStore(ctx, n)
	if err != nil {
		return nil, nil, err
	}
	return n, s, nil
}

func openStore(ctx context.Context, n *node.Node) (store, error) {
	switch n.Config.Database.Driver {
	case node.DriverSQLite:
		path := n.Config.Database.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(n.Dir, path)
		}
		return sqlite.Open(ctx, path)
	case node.DriverPostgres:
		return postgres.Open(ctx, n.Config.Database.URL)
	}
	return nil, fmt.Errorf("database driver %q is not supported (use sqlite or postgres)", n.Config.Database.Driver)
}
