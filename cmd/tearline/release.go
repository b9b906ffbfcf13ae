package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// releaseStoreOf returns the release-set side of the node's store.
func releaseStoreOf(s store) (tearline.ReleaseStore, error) {
	rs, ok := s.(tearline.ReleaseStore)
	if !ok {
		return nil, errors.New("this store keeps no release sets")
	}
	return rs, nil
}

// nodeReleasing compiles the node's agreements for its own partner code,
// with the communities its config declares.
func nodeReleasing(n *node.Node) (*releasing, error) {
	reg, err := nodeRegistry(n)
	if err != nil {
		return nil, err
	}
	stored, err := loadAgreements(n.Dir)
	if err != nil {
		return nil, err
	}
	var agreements []tearline.Agreement
	for _, a := range current(stored) {
		agreements = append(agreements, a.Agreement)
	}
	if x := n.Config.Exercise; x.Name != "" {
		r, err := release.NewExerciseReleaser(reg, agreements, n.Config.Node.Partner, x.Name, x.Participants)
		if err != nil {
			return nil, err
		}
		return &releasing{Releaser: r, engine: r.Engine}, nil
	}
	return newReleasing(reg, agreements, n.Config.Node.Partner)
}

// classifier gives ingested objects their release class on this node.
func (r *releasing) classifier() func(*tearline.Object, *stix.Value, tearline.Label) ([]byte, error) {
	return func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error) {
		return r.Classify(release.NewSubject(obj, v, r.Holder, l))
	}
}

// updateReleases decides the classes of objects added since the last
// update and reports it in one line unless quiet.
func (e *env) updateReleases(ctx context.Context, s store, rel *releasing, actor string, quiet bool) error {
	rs, err := releaseStoreOf(s)
	if err != nil {
		return err
	}
	p, err := release.Update(ctx, rs, rel.Releaser, time.Now().UTC(), actor)
	if err != nil {
		return fmt.Errorf("release sets: %w", err)
	}
	if p.Impact.Classes > 0 && !quiet {
		fmt.Fprintf(e.stdout, "release sets: %s new objects decided for %d partners: %s\n",
			groupDigits(int(p.Impact.Objects)), len(rel.Partners(p.Change.Time)), p.Impact.String())
	}
	return nil
}

func newReleaseCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "release",
		Short: "Show and recompute the release sets: what each partner may receive",
		Long: `Every stored object version has a release set: for each partner the node
shares with, the decision (allow, allow a tearline, needs consent, needs a
person, deny), the deciding agreement and the reason codes. The sets are
decided when objects arrive and recomputed when agreements change;
'tearline explain' gives the reasons in words for one object.`,
	}
	cmd.AddCommand(newReleaseRecomputeCmd(e), newReleaseShowCmd(e), newReleaseRequestCmd(e), newReleaseRequestsCmd(e), newReleaseApproveCmd(e), newReleaseDenyCmd(e))
	return cmd
}

func newReleaseRecomputeCmd(e *env) *cobra.Command {
	var (
		dir    string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "recompute [--dry-run]",
		Short: "Decide every release set again, now, and report what changes",
		Long: `Decide every stored object's release set again with the agreements,
communities and partners as they are now (for example after an agreement
expired), print what changes partner by partner, and apply it in one
transaction recorded in the audit log. --dry-run only prints.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			rel, err := nodeReleasing(n)
			if err != nil {
				return err
			}
			return e.recompute(ctx, s, rel, n.Config.Node.Partner+" operator", "recompute", dryRun)
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the impact without applying it")
	return cmd
}

// recompute re-decides every class, prints the impact and applies it
// unless dryRun.
func (e *env) recompute(ctx context.Context, s store, rel *releasing, actor, cause string, dryRun bool) error {
	rs, err := releaseStoreOf(s)
	if err != nil {
		return err
	}
	start := time.Now()
	p, err := release.Compute(ctx, rs, rel.Releaser, release.Options{All: true, At: start.UTC(), Actor: actor, Cause: cause})
	if err != nil {
		return fmt.Errorf("release sets: %w", err)
	}
	fmt.Fprintf(e.stdout, "release sets: %s objects in %d classes decided for %s\n",
		groupDigits(int(p.Impact.Objects)), p.Impact.Classes, strings.Join(rel.Partners(p.Change.Time), ", "))
	fmt.Fprintf(e.stdout, "impact: %s\n", p.Impact.String())
	if dryRun {
		fmt.Fprintln(e.stdout, "dry run: nothing applied")
		return nil
	}
	if err := release.Apply(ctx, rs, p); err != nil {
		return fmt.Errorf("release sets: %w", err)
	}
	fmt.Fprintf(e.stdout, "applied in %s\n", time.Since(start).Round(time.Millisecond))
	return nil
}

func newReleaseShowCmd(e *env) *cobra.Command {
	var dir, collection string
	cmd := &cobra.Command{
		Use:   "show OBJECT-ID",
		Short: "Show an object's release set: the stored decision for every partner",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			rs, err := releaseStoreOf(s)
			if err != nil {
				return err
			}
			class, releases, err := rs.ReleaseOf(ctx, collection, args[0], time.Time{})
			if err != nil {
				return err
			}
			printReleases(e.stdout, args[0], class, releases)
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVarP(&collection, "collection", "c", defaultCollection, "collection holding the object (id or alias)")
	return cmd
}

func printReleases(w io.Writer, id string, class int64, releases []tearline.ClassRelease) {
	if class == 0 {
		fmt.Fprintf(w, "%s is not classified: nothing is released from it (run 'tearline release recompute')\n", id)
		return
	}
	if len(releases) == 0 {
		fmt.Fprintf(w, "%s (release class %d): no partner may receive it\n", id, class)
		return
	}
	fmt.Fprintf(w, "%s (release class %d)\n", id, class)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTNER\tDECISION\tAGREEMENT\tREASONS")
	for _, r := range releases {
		decision := strings.ToUpper(r.Outcome.String())
		if len(r.ConsentFrom) > 0 {
			decision += " (" + strings.Join(r.ConsentFrom, ", ") + ")"
		}
		if r.Variant != "" {
			decision += " " + r.Variant
		}
		agreement := r.Agreement
		if agreement == "" {
			agreement = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Partner, decision, agreement, strings.Join(r.Reasons, ", "))
	}
	tw.Flush()
}

// nodeRegistry is the built-in registry of partners and communities with
// the communities the node's config declares.
func nodeRegistry(n *node.Node) (*policy.Registry, error) {
	return registryOf(n.Config)
}

// registryOf is the built-in registry with the communities cfg declares.
func registryOf(cfg node.Config) (*policy.Registry, error) {
	reg := policy.Builtin()
	for i, c := range cfg.Communities {
		community := tearline.Community{Code: c.Code, Name: c.Name}
		for j, m := range c.Members {
			from, err := configDate(m.From)
			if err == nil && m.From == "" {
				err = errors.New("missing")
			}
			if err != nil {
				return nil, fmt.Errorf("config: communities[%d].members[%d].from: %w", i, j, err)
			}
			until, err := configDate(m.Until)
			if err != nil {
				return nil, fmt.Errorf("config: communities[%d].members[%d].until: %w", i, j, err)
			}
			community.Members = append(community.Members, tearline.Membership{Partner: m.Partner, From: from, Until: until})
		}
		if err := reg.AddCommunity(community); err != nil {
			return nil, fmt.Errorf("config: communities[%d]: %w", i, err)
		}
	}
	return reg, nil
}

// configDate reads a date of the config: YYYY-MM-DD (midnight UTC) or RFC
// 3339; empty is the zero time.
func configDate(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date: write YYYY-MM-DD or an RFC 3339 time", s)
	}
	return t.UTC(), nil
}
