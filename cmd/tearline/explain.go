package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

func newExplainCmd(e *env) *cobra.Command {
	var (
		dir, to, purpose, at, action, collection string
		user, organisation                       string
		clearances                               []string
	)
	cmd := &cobra.Command{
		Use:   "explain OBJECT-ID --to CODE [--user NAME --clearance POLICY:LEVEL] [--purpose P] [--at TIME]",
		Short: "Explain whether a partner may receive an object, and why",
		Long: `Decide, as the node would, whether the partner CODE may receive the newest
version of OBJECT-ID, and print the decision with every reason: the
object's label (read from its markings), the agreements in force, the
partner's communities at the object's creation and now, the dissemination
controls and handling codes.

The partner is taken to be cleared for what the agreements it is a party to
allow: every level up to each agreement's ceiling. Nothing is released by
this command.

With --user, the decision is for a local user of nation CODE instead,
holding the clearances given (each POLICY:LEVEL grants that level and every
level below it in the scheme): a user of the node's own nation is decided
under the node's own rules, with no agreement; a foreign liaison officer
under the agreements with CODE, as a partner would be.`,
		Example: `  tearline explain indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f --to FRA
  tearline explain report--... --to JPN --purpose counter-terrorism --at 2027-01-01T00:00:00Z
  tearline explain indicator--... --to GBR --user j.smith --clearance GBR:SECRET --action disclose`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usageError{fmt.Errorf("explain needs --to CODE, the partner to decide for")}
			}
			when := time.Now().UTC()
			if at != "" {
				t, _, err := stix.ParseTimestamp(at)
				if err != nil {
					return usageError{fmt.Errorf("--at: %w", err)}
				}
				when = t
			}
			act, ok := map[string]tearline.Action{"release": tearline.Release, "disclose": tearline.Disclose, "onward": tearline.Onward}[action]
			if !ok {
				return usageError{fmt.Errorf("--action %q: use release, disclose or onward", action)}
			}
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
			subject, banner, err := loadSubject(ctx, s, collection, args[0], n.Config.Node.Partner)
			if err != nil {
				return err
			}
			rc := rel.recipient(strings.ToUpper(to), when)
			if user != "" {
				if rc, err = localUser(strings.ToUpper(to), user, organisation, clearances, rel); err != nil {
					return usageError{err}
				}
			} else if len(clearances) > 0 {
				return usageError{fmt.Errorf("--clearance is for a local user: give --user too")}
			}
			d := rel.engine.Decide(&policy.Request{Subject: subject, Recipient: rc, Action: act, Purpose: purpose, Time: when})
			printDecision(e.stdout, subject, banner, rc, action, purpose, when, d)
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&to, "to", "", "partner code to decide for (FRA, JPN, EUROPOL...)")
	cmd.Flags().StringVar(&purpose, "purpose", "", "what the partner would use it for (counter-terrorism, combating-crime, ...)")
	cmd.Flags().StringVar(&at, "at", "", "decide as of this time (RFC 3339, UTC; default now)")
	cmd.Flags().StringVar(&action, "action", "release", "release (a copy is kept), disclose (view only) or onward (passed on by a holder)")
	cmd.Flags().StringVarP(&collection, "collection", "c", defaultCollection, "collection that holds the object")
	cmd.Flags().StringVar(&user, "user", "", "decide for this local user of nation --to instead of the partner")
	cmd.Flags().StringVar(&organisation, "organisation", "", "the local user's organisation (for TLP:AMBER+STRICT)")
	cmd.Flags().StringSliceVar(&clearances, "clearance", nil, "the local user's clearance as POLICY:LEVEL (repeatable), e.g. GBR:SECRET")
	return cmd
}

// localUser is a local user as a decision sees it: nation code, with the
// clearances given, each up to its level.
func localUser(code, name, organisation string, clearances []string, rel *releasing) (*tearline.Recipient, error) {
	cl, err := parseClearances(clearances)
	if err != nil {
		return nil, err
	}
	return &tearline.Recipient{Code: code, Nationality: rel.Registry.Nationality(code), User: name, Organisation: organisation, Clearances: cl}, nil
}

// loadSubject reads the newest version of id and its label as the decision
// engine sees it. The label comes from the object's markings as this node
// stores them; the marking definitions it refers to must be in the same
// collection (TLP markings are built in), or reading the label fails and
// the decision is a denial.
func loadSubject(ctx context.Context, s store, collection, id, holder string) (*policy.Subject, string, error) {
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: collection, IDs: []string{id}})
	if err != nil {
		return nil, "", err
	}
	if len(page.Objects) == 0 {
		return nil, "", fmt.Errorf("no object %s in collection %q: %w", id, collection, tearline.ErrNotFound)
	}
	// The stored release class is what the release sets were decided on:
	// it also holds what the object's JSON does not, such as the partner
	// that sent it (its originator unless the label names one) and the
	// consents on record.
	if rs, ok := s.(tearline.ReleaseStore); ok && page.Objects[0].Class != 0 {
		subjects, err := rs.ReleaseSubjects(ctx, []int64{page.Objects[0].Class})
		if err != nil {
			return nil, "", err
		}
		if data, ok := subjects[page.Objects[0].Class]; ok {
			if subject, err := release.Subject(data); err == nil {
				subject.ID = id
				// The class keeps the start of the creation time's
				// membership epoch, which decides alike; the reasons
				// name the object's own creation time.
				if _, v, err := stix.Parse(page.Objects[0].JSON); err == nil {
					if c, ok := v.Get("created"); ok {
						if t, _, err := stix.ParseTimestamp(c.Str); err == nil {
							subject.Created = t
						}
					}
				}
				banner := label.Format(subject.Label)
				if subject.Label.Policy == "" && subject.Label.TLP == tearline.TLPNone {
					banner = "no label"
				}
				return subject, banner, nil
			}
		}
	}
	defs := label.Definitions{}
	return subjectFor(ctx, s, collection, page.Objects[0].JSON, holder, defs)
}

// subjectFor builds the decision subject of an object's JSON. Marking
// definitions missing from defs are fetched from the collection and added
// to defs. An unreadable label is never "unlabelled": the subject keeps the
// zero label, which the engine denies, and the banner says why.
func subjectFor(ctx context.Context, s store, collection string, data []byte, holder string, defs label.Definitions) (*policy.Subject, string, error) {
	obj, v, err := stix.Parse(data)
	if err != nil {
		return nil, "", fmt.Errorf("stored object: %w", err)
	}
	return parsedSubject(ctx, s, collection, obj, v, holder, defs)
}

// parsedSubject is subjectFor for an object already parsed.
func parsedSubject(ctx context.Context, s store, collection string, obj *tearline.Object, v *stix.Value, holder string, defs label.Definitions) (*policy.Subject, string, error) {
	if refs, ok := v.Get("object_marking_refs"); ok {
		var missing []string
		for _, r := range refs.Arr {
			if _, have := defs.MarkingDefinition(r.Str); !have {
				missing = append(missing, r.Str)
			}
		}
		if len(missing) > 0 {
			mp, err := s.Objects(ctx, tearline.ObjectQuery{Collection: collection, IDs: missing, Types: []string{"marking-definition"}})
			if err != nil {
				return nil, "", err
			}
			for _, m := range mp.Objects {
				if err := defs.Add(m.JSON); err != nil {
					return nil, "", fmt.Errorf("marking definition %s: %w", m.ID, err)
				}
			}
		}
	}
	l, err := label.FromObject(v, defs)
	if err != nil {
		return newSubject(obj, v, holder, tearline.Label{}), "unreadable markings: " + err.Error(), nil
	}
	if l.Policy == "" && l.TLP == tearline.TLPNone {
		return newSubject(obj, v, holder, l), "no label", nil
	}
	return newSubject(obj, v, holder, l), label.Format(l), nil
}

func newSubject(obj *tearline.Object, v *stix.Value, holder string, l tearline.Label) *policy.Subject {
	return release.NewSubject(obj, v, holder, l)
}

// releasing is what a release decision needs of the node: its agreements
// in force (the newest version of each), the partner registry, and the
// engine compiled from both.
type releasing struct {
	*release.Releaser
	engine *policy.Engine
}

func newReleasing(reg *policy.Registry, agreements []tearline.Agreement, holder string) (*releasing, error) {
	r, err := release.NewReleaser(reg, agreements, holder)
	if err != nil {
		return nil, err
	}
	return &releasing{Releaser: r, engine: r.Engine}, nil
}

// recipient is partner code as a decision sees it at a time (see
// release.Releaser.Recipient).
func (r *releasing) recipient(code string, at time.Time) *tearline.Recipient {
	return r.Recipient(code, at)
}

func printDecision(w io.Writer, s *policy.Subject, banner string, rc *tearline.Recipient, action, purpose string, at time.Time, d tearline.Decision) {
	who := rc.Code
	if rc.User != "" {
		who = fmt.Sprintf("local user %s of %s", rc.User, rc.Code)
	}
	fmt.Fprintf(w, "%s to %s: %s\n", s.ID, who, strings.ToUpper(d.Outcome.String()))
	fmt.Fprintf(w, "  label      %s\n", banner)
	p := purpose
	if p == "" {
		p = "(none given)"
	}
	fmt.Fprintf(w, "  request    %s, purpose %s, at %s, by %s\n", action, p, at.Format(time.RFC3339), s.Holder)
	if d.Agreement != "" {
		fmt.Fprintf(w, "  agreement  %s\n", d.Agreement)
	}
	if d.Variant != "" {
		fmt.Fprintf(w, "  variant    %s (a tearline)\n", d.Variant)
	}
	if len(d.ConsentFrom) > 0 {
		fmt.Fprintf(w, "  consent    needed from %s\n", strings.Join(d.ConsentFrom, ", "))
	}
	fmt.Fprintf(w, "  because\n")
	for _, r := range d.Reasons {
		fmt.Fprintf(w, "    - %s [%s]\n", r.Text, r.Code)
	}
}
