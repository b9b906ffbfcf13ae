package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/stix"
)

func newExportCmd(e *env) *cobra.Command {
	var (
		dir, collection, output, format, versions, since string
		to, sealTo                                       string
		types                                            []string
	)
	cmd := &cobra.Command{
		Use:   "export [--collection C] [--type T]... [--added-since TIME] [-o FILE]",
		Short: "Export objects as a STIX 2.1 bundle or JSON lines",
		Long: `Export a collection's objects, exactly as they were received, as one STIX 2.1
bundle or as JSON lines (one object per line), in the order the node added
them. The output streams: exports of any size use little memory.

With --to CODE --envelope FILE, the objects that the release engine allows
CODE to receive (under the node's agreements, read from their labels) are
sealed for CODE's pinned key into one envelope file for offline transfer to
a disconnected network; 'tearline import FILE' on CODE's node verifies and
opens it.`,
		Example: `  tearline export -o all.json
  tearline export --type indicator --added-since 2026-01-01T00:00:00Z --format jsonl
  tearline export --to FRA --envelope fra-2026-11-25.tlenv   # offline transfer to FRA`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := tearline.ObjectQuery{Collection: collection, Types: types}
			switch versions {
			case "all":
				q.Version.All = true
			case "last":
				q.Version.Last = true
			case "first":
				q.Version.First = true
			default:
				return usageError{fmt.Errorf("--versions %q: use all, last or first", versions)}
			}
			if format != "bundle" && format != "jsonl" {
				return usageError{fmt.Errorf("--format %q: use bundle or jsonl", format)}
			}
			if since != "" {
				t, _, err := stix.ParseTimestamp(since)
				if err != nil {
					return usageError{fmt.Errorf("--added-since: %w", err)}
				}
				q.AddedAfter = t.Add(-time.Microsecond) // inclusive
			}
			if (to == "") != (sealTo == "") {
				return usageError{fmt.Errorf("--to and --envelope go together: --to CODE --envelope FILE seals what CODE may receive")}
			}
			ctx := cmd.Context()
			n, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.Collection(ctx, collection); err != nil {
				return err
			}
			if to != "" {
				return e.exportSealed(ctx, n, s, q, to, sealTo)
			}
			var out io.Writer = e.stdout
			var file *os.File
			if output != "" && output != "-" {
				file, err = os.Create(output)
				if err != nil {
					return err
				}
				defer file.Close()
				out = file
			}
			w := bufio.NewWriterSize(out, 256<<10)
			var ids []string
			count, err := exportObjects(cmd, s, q, w, format, func(o tearline.StoredObject) { ids = append(ids, o.ID) })
			if err != nil {
				return fmt.Errorf("export: %w", err)
			}
			if err := w.Flush(); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			// An export leaves the node's control: it is recorded, object by
			// object, before the command reports success.
			dest := output
			if dest == "" || dest == "-" {
				dest = "standard output"
			}
			if err := e.recordExport(ctx, n, s, collection, dest, ids); err != nil {
				return fmt.Errorf("export: written, but not recorded in the audit log: %w", err)
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				fmt.Fprintf(e.stderr, "exported %s objects to %s\n", groupDigits(count), output)
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVarP(&collection, "collection", "c", defaultCollection, "collection to export (id or alias)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only objects of this STIX type (repeatable, or comma-separated)")
	cmd.Flags().StringVar(&since, "added-since", "", "only objects the node added at or after this time (RFC 3339, UTC, e.g. 2026-01-01T00:00:00Z)")
	cmd.Flags().StringVar(&versions, "versions", "all", "which versions of each object: all, last or first")
	cmd.Flags().StringVar(&format, "format", "bundle", "output format: bundle or jsonl")
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().StringVar(&to, "to", "", "seal what this partner may receive (with --envelope), for offline transfer")
	cmd.Flags().StringVar(&sealTo, "envelope", "", "write the sealed envelope to this new file (with --to)")
	return cmd
}

// exportIDsPerEvent bounds the ids one object-exported entry names.
const exportIDsPerEvent = 500

// recordExport appends object-exported entries naming every object
// written, in order.
func (e *env) recordExport(ctx context.Context, n *node.Node, s store, collection, dest string, ids []string) error {
	st, err := nodeLedger(s)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	event := func(part []string) ledger.Event {
		return ledger.Event{Kind: ledger.KindObjectExported, Time: now, Actor: n.Config.Node.Partner + " operator",
			Subjects: part, Details: map[string]string{"collection": collection, "to": dest, "objects": strconv.Itoa(len(part)),
				"total": strconv.Itoa(len(ids))}}
	}
	evs := []ledger.Event{event(nil)} // an export of nothing is recorded too
	if len(ids) > 0 {
		evs = evs[:0]
		for part := range slices.Chunk(ids, exportIDsPerEvent) {
			evs = append(evs, event(part))
		}
	}
	l := ledger.New(st)
	for try := 0; ; try++ {
		_, err = l.Append(ctx, evs...)
		if !errors.Is(err, ledger.ErrConflict) || try == 4 {
			return err
		}
	}
}

func exportObjects(cmd *cobra.Command, s store, q tearline.ObjectQuery, w *bufio.Writer, format string, exported func(tearline.StoredObject)) (int, error) {
	ctx := cmd.Context()
	if format == "bundle" {
		fmt.Fprintf(w, `{"type":"bundle","id":"bundle--%s","objects":[`, randomUUID())
	}
	n := 0
	q.Limit = 1000
	for {
		page, err := s.Objects(ctx, q)
		if err != nil {
			return n, err
		}
		for _, o := range page.Objects {
			if format == "bundle" {
				if n > 0 {
					w.WriteByte(',')
				}
				w.WriteByte('\n')
			}
			w.Write(o.JSON)
			exported(o)
			if format == "jsonl" {
				w.WriteByte('\n')
			}
			n++
		}
		if !page.More {
			break
		}
		q.After = page.Objects[len(page.Objects)-1].DateAdded
	}
	if format == "bundle" {
		w.WriteString("\n]}\n")
	}
	return n, nil
}

func randomUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

func newBackupCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "backup DEST",
		Short: "Write a consistent copy of the node's database, while it runs",
		Long: `Write a consistent copy of the node's SQLite database to DEST (a new file),
without stopping the node: writers carry on while the copy is made. For a
node on PostgreSQL use the database's own tools (pg_dump, pg_basebackup).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dest := args[0]
			if _, err := os.Stat(dest); err == nil {
				return fmt.Errorf("backup: %s already exists; choose a new file name", dest)
			}
			ctx := cmd.Context()
			_, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			b, ok := s.(backuper)
			if !ok {
				return fmt.Errorf("backup: this node's database is PostgreSQL; use pg_dump or pg_basebackup")
			}
			if err := b.Backup(ctx, dest); err != nil {
				return err
			}
			n, _ := s.Count(ctx, "")
			fmt.Fprintf(e.stdout, "backed up %s object versions to %s\n", groupDigits(int(n)), dest)
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newCollectionCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "collection",
		Short: "List and create collections",
	}
	var dir, title, description string
	create := &cobra.Command{
		Use:   "create ALIAS [--title T] [--description D]",
		Short: "Create a collection",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			c, err := s.CreateCollection(ctx, tearline.Collection{Alias: args[0], Title: title, Description: description})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created collection %s (%s)\n", c.Alias, c.ID)
			return nil
		},
	}
	addDirFlag(create, &dir)
	create.Flags().StringVar(&title, "title", "", "human-readable title (default: the alias)")
	create.Flags().StringVar(&description, "description", "", "what the collection holds")
	var listDir string
	list := &cobra.Command{
		Use:   "list",
		Short: "List collections with their object counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, s, err := e.openNode(ctx, listDir)
			if err != nil {
				return err
			}
			defer s.Close()
			cs, err := s.Collections(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%-16s %-36s %12s  %s\n", "ALIAS", "ID", "VERSIONS", "TITLE")
			for _, c := range cs {
				n, err := s.Count(ctx, c.ID)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%-16s %-36s %12s  %s\n", c.Alias, c.ID, groupDigits(int(n)), c.Title)
			}
			return nil
		},
	}
	addDirFlag(list, &listDir)
	cmd.AddCommand(create, list, newCollectionGrantCmd(e), newCollectionLabelCmd(e))
	return cmd
}
