package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
)

// Agreements live in the node directory, one file per version
// (agreements/ID@vN.yaml), exactly as the operator added them: an agreement
// is a legal text, and the node keeps what was written. A version is never
// overwritten; a change is a new version.

const agreementsDir = "agreements"

func newAgreementCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "agreement",
		Short: "Add, list, show, validate and review sharing agreements",
		Long: `Sharing agreements are the rules: who may share what with whom, at which
classification, for which purpose and for how long. Each is a YAML file
(see policy/examples and policy/agreement.schema.json); the node keeps
every version it was given, in the agreements/ folder of the node directory.`,
	}
	cmd.AddCommand(newAgreementValidateCmd(e), newAgreementAddCmd(e), newAgreementListCmd(e),
		newAgreementShowCmd(e), newAgreementReviewCmd(e))
	return cmd
}

func newAgreementValidateCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "validate FILE... [--dir NODE]",
		Short: "Check agreement files without adding them",
		Long: `Check agreement files: their format, and that every party is a known
partner or community (the built-in ones, and with --dir also the
communities that node's config declares).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg := policy.Builtin()
			if dir != "" {
				cfg, err := node.ReadConfig(dir)
				if err != nil {
					return err
				}
				if reg, err = registryOf(cfg); err != nil {
					return err
				}
			}
			failed := 0
			for _, name := range args {
				a, err := readAgreement(name, reg)
				if err != nil {
					fmt.Fprintf(e.stderr, "%s: %v\n", name, err)
					failed++
					continue
				}
				fmt.Fprintf(e.stdout, "%s: %s@v%d %q is valid\n", name, a.ID, a.Version, a.Title)
			}
			if failed > 0 {
				return fmt.Errorf("%d of %d agreement files are not valid", failed, len(args))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "also accept the communities this node's config declares")
	return cmd
}

// readAgreement parses and validates an agreement file against a
// registry of partners and communities.
func readAgreement(name string, reg *policy.Registry) (tearline.Agreement, error) {
	data, err := os.ReadFile(name)
	if err != nil {
		return tearline.Agreement{}, err
	}
	a, err := policy.ParseAgreement(data)
	if err != nil {
		return a, err
	}
	if err := policy.ValidateAgreement(a, reg); err != nil {
		return a, err
	}
	return a, nil
}

func agreementFile(dir string, a tearline.Agreement) string {
	return filepath.Join(dir, agreementsDir, fmt.Sprintf("%s@v%d.yaml", a.ID, a.Version))
}

func newAgreementAddCmd(e *env) *cobra.Command {
	var dir string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "add FILE [--dry-run]",
		Short: "Add an agreement, or a new version of one, to the node",
		Long: `Add an agreement file to the node after validating it. A version already
added is never replaced: adding the same file again changes nothing, and a
different text under the same id and version is refused (raise the version).

Before anything changes, the command prints the agreement's impact on the
release sets, partner by partner ("1,204 objects become releasable to JPN;
17 are withdrawn from NZL"); the release sets are then updated in one
transaction. --dry-run prints the impact and changes nothing.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := e.nodeRoot(dir)
			if err != nil {
				return err
			}
			cfg, err := node.ReadConfig(root)
			if err != nil {
				return err
			}
			reg, err := registryOf(cfg)
			if err != nil {
				return err
			}
			a, err := readAgreement(args[0], reg)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			data, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			dest := agreementFile(root, a)
			ctx := cmd.Context()
			var pending *release.Plan
			var pendingStore tearline.ReleaseStore
			if _, err := os.Stat(dest); errors.Is(err, fs.ErrNotExist) {
				// Validated and new: show what it would do before doing it.
				n, s, err := e.openNode(ctx, dir)
				if err != nil {
					return err
				}
				defer s.Close()
				stored, err := loadAgreements(root)
				if err != nil {
					return err
				}
				rel, err := newReleasing(reg, withAgreement(current(stored), a), n.Config.Node.Partner)
				if err != nil {
					return err
				}
				rs, err := releaseStoreOf(s)
				if err != nil {
					return err
				}
				plan, err := release.Compute(ctx, rs, rel.Releaser, release.Options{All: true, At: time.Now().UTC(),
					Actor: n.Config.Node.Partner + " operator", Cause: fmt.Sprintf("agreement %s@v%d added", a.ID, a.Version)})
				if err != nil {
					return fmt.Errorf("release sets: %w", err)
				}
				fmt.Fprintf(e.stdout, "impact of %s@v%d: %s\n", a.ID, a.Version, plan.Impact.String())
				if dryRun {
					fmt.Fprintln(e.stdout, "dry run: nothing changed")
					return nil
				}
				pending, pendingStore = plan, rs
			}
			if old, err := os.ReadFile(dest); err == nil {
				if bytes.Equal(old, data) {
					fmt.Fprintf(e.stdout, "%s@v%d is already in the node; nothing changed\n", a.ID, a.Version)
					return nil
				}
				latest, err := latestVersion(root, a.ID)
				if err != nil {
					return err
				}
				return fmt.Errorf("%s@v%d is already in the node with a different text; an agreement version is never rewritten: give the new text version %d",
					a.ID, a.Version, latest+1)
			}
			if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(dest, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			if _, err := f.Write(data); err != nil {
				f.Close()
				os.Remove(dest)
				return err
			}
			if err := f.Sync(); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "added %s@v%d %q (parties %s)\n", a.ID, a.Version, a.Title, strings.Join(a.Parties, ", "))
			n, s, err := e.openNode(ctx, dir)
			if err != nil {
				return fmt.Errorf("the agreement was added, but not recorded in the audit log: %w", err)
			}
			defer s.Close()
			if err := e.record(ctx, n, s, ledger.Event{Kind: ledger.KindAgreementChanged,
				Subjects: []string{fmt.Sprintf("%s@v%d", a.ID, a.Version)},
				Details:  map[string]string{"title": a.Title, "parties": strings.Join(a.Parties, " ")}}); err != nil {
				return err
			}
			if pending != nil {
				if err := release.Apply(ctx, pendingStore, pending); err != nil {
					return fmt.Errorf("the agreement was added, but its release sets were not updated (run 'tearline release recompute'): %w", err)
				}
				fmt.Fprintln(e.stdout, "release sets updated")
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the agreement's impact on the release sets and change nothing")
	return cmd
}

// withAgreement is the node's current agreements once a is added: a newer
// version replaces the one in force.
func withAgreement(cur []storedAgreement, a tearline.Agreement) []tearline.Agreement {
	var out []tearline.Agreement
	added := false
	for _, c := range cur {
		if c.ID == a.ID {
			if a.Version > c.Version {
				out, added = append(out, a), true
				continue
			}
			added = true // an older version changes nothing in force
		}
		out = append(out, c.Agreement)
	}
	if !added {
		out = append(out, a)
	}
	return out
}

// nodeRoot returns the node directory after checking it holds a node.
func (e *env) nodeRoot(flag string) (string, error) {
	dir := e.nodeDir(flag)
	if _, err := os.Stat(filepath.Join(dir, "tearline.yaml")); err != nil {
		return "", fmt.Errorf("%s is not a node directory (no tearline.yaml); create one with 'tearline init', or point --dir at one", dir)
	}
	return dir, nil
}

// storedAgreement is one version of an agreement in the node.
type storedAgreement struct {
	tearline.Agreement
	File  string
	Added time.Time
}

// loadAgreements reads every agreement version in the node, newest version
// of each id last.
func loadAgreements(root string) ([]storedAgreement, error) {
	files, err := filepath.Glob(filepath.Join(root, agreementsDir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	cfg, err := node.ReadConfig(root)
	if err != nil {
		return nil, err
	}
	reg, err := registryOf(cfg)
	if err != nil {
		return nil, err
	}
	var out []storedAgreement
	for _, f := range files {
		a, err := readAgreement(f, reg)
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the node refuses to use an agreement it cannot read)", f, err)
		}
		if filepath.Base(f) != filepath.Base(agreementFile(root, a)) {
			return nil, fmt.Errorf("%s holds %s@v%d: the file name does not match its content", f, a.ID, a.Version)
		}
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		out = append(out, storedAgreement{Agreement: a, File: f, Added: fi.ModTime()})
	}
	slices.SortFunc(out, func(a, b storedAgreement) int {
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return a.Version - b.Version
	})
	return out, nil
}

func latestVersion(root, id string) (int, error) {
	all, err := loadAgreements(root)
	if err != nil {
		return 0, err
	}
	v := 0
	for _, a := range all {
		if a.ID == id {
			v = max(v, a.Version)
		}
	}
	return v, nil
}

// current keeps the newest version of each agreement.
func current(all []storedAgreement) []storedAgreement {
	var out []storedAgreement
	for i, a := range all {
		if i+1 < len(all) && all[i+1].ID == a.ID {
			continue
		}
		out = append(out, a)
	}
	return out
}

func newAgreementListCmd(e *env) *cobra.Command {
	var dir string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--all]",
		Short: "List the node's agreements (the newest version of each)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := e.nodeRoot(dir)
			if err != nil {
				return err
			}
			list, err := loadAgreements(root)
			if err != nil {
				return err
			}
			if !all {
				list = current(list)
			}
			now := time.Now()
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "AGREEMENT\tSTATE\tVALID\tREVIEW BY\tPARTIES\tTITLE")
			for _, a := range list {
				fmt.Fprintf(w, "%s@v%d\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Version, state(&a.Agreement, now),
					period(a.ValidFrom, a.ValidUntil), day(a.ReviewBy), strings.Join(a.Parties, " "), a.Title)
			}
			return w.Flush()
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&all, "all", false, "list every version, not only the newest")
	return cmd
}

func state(a *tearline.Agreement, now time.Time) string {
	switch {
	case now.Before(a.ValidFrom):
		return "not yet in force"
	case !a.Active(now):
		return "expired"
	case !a.ReviewBy.IsZero() && now.After(a.ReviewBy):
		return "in force, review overdue"
	}
	return "in force"
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02")
}

func period(from, until time.Time) string {
	if until.IsZero() {
		return day(from) + " ->"
	}
	return day(from) + " -> " + day(until)
}

func newAgreementShowCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "show ID[@vN]",
		Short: "Print an agreement as the node holds it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := e.nodeRoot(dir)
			if err != nil {
				return err
			}
			list, err := loadAgreements(root)
			if err != nil {
				return err
			}
			id, version, _ := strings.Cut(args[0], "@v")
			var found *storedAgreement
			for i := range list {
				if list[i].ID == id && (version == "" || fmt.Sprint(list[i].Version) == version) {
					found = &list[i]
				}
			}
			if found == nil {
				return fmt.Errorf("no agreement %s in this node ('tearline agreement list' shows them): %w", args[0], tearline.ErrNotFound)
			}
			data, err := os.ReadFile(found.File)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "# %s@v%d, %s (%s)\n", found.ID, found.Version, state(&found.Agreement, time.Now()), found.File)
			e.stdout.Write(data)
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newAgreementReviewCmd(e *env) *cobra.Command {
	var dir, within string
	cmd := &cobra.Command{
		Use:   "review [--within 90d]",
		Short: "List agreements due or overdue for review, and those that expire soon",
		Long: `List the agreements in force whose review date has passed or falls within the
window, and those that expire within it. Releases are not yet recorded per
agreement, so what each released since its last review is not shown.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			window, err := parseDays(within)
			if err != nil {
				return usageError{fmt.Errorf("--within: %w", err)}
			}
			root, err := e.nodeRoot(dir)
			if err != nil {
				return err
			}
			list, err := loadAgreements(root)
			if err != nil {
				return err
			}
			now := time.Now()
			horizon := now.Add(window)
			n := 0
			for _, a := range current(list) {
				if !a.Active(now) {
					continue
				}
				var notes []string
				switch {
				case !a.ReviewBy.IsZero() && now.After(a.ReviewBy):
					notes = append(notes, fmt.Sprintf("review overdue since %s (%d days)", day(a.ReviewBy), int(now.Sub(a.ReviewBy).Hours()/24)))
				case !a.ReviewBy.IsZero() && horizon.After(a.ReviewBy):
					notes = append(notes, fmt.Sprintf("review due by %s", day(a.ReviewBy)))
				case a.ReviewBy.IsZero():
					notes = append(notes, "no review date set")
				}
				if !a.ValidUntil.IsZero() && horizon.After(a.ValidUntil) {
					notes = append(notes, fmt.Sprintf("expires %s", day(a.ValidUntil)))
				}
				if len(notes) == 0 {
					continue
				}
				n++
				fmt.Fprintf(e.stdout, "%s@v%d  %s: %s\n", a.ID, a.Version, a.Title, strings.Join(notes, "; "))
			}
			if n == 0 {
				fmt.Fprintf(e.stdout, "no agreement in force is due for review within %s\n", within)
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&within, "within", "90d", "look this many days ahead (e.g. 30d)")
	return cmd
}

func parseDays(s string) (time.Duration, error) {
	var n int
	if _, err := fmt.Sscanf(s, "%dd", &n); err != nil || n < 0 || fmt.Sprintf("%dd", n) != s {
		return 0, errors.New("give a number of days, such as 30d")
	}
	return time.Duration(n) * 24 * time.Hour, nil
}
