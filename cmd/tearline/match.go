package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/stix"
)

func newMatchCmd(e *env) *cobra.Command {
	var (
		dir, asUser, nation, organisation, asPartner, at string
		clearances                                       []string
		asJSON                                           bool
	)
	cmd := &cobra.Command{
		Use:   "match FILE [--as-user NAME --clearance POLICY:LEVEL ...] [--json]",
		Short: "Match a log or IOC list against the indicators this node holds, as one viewer",
		Long: `Read FILE ("-" for standard input), one value per line or free text such as
log lines, and find in it IPv4 and IPv6 addresses and prefixes, domain
names, URLs, email addresses and MD5, SHA-1, SHA-256 and SHA-512 hashes
(defanged forms such as hxxp:// and example[.]com are read too). Each value
is matched against the indicators in the node's store, exactly, by CIDR
containment and by parent domain, and every match is printed as an alert
with its provenance (the originating partner's object and its label), how
it matched, the corroboration by independent originators, the confidence
with every input of its formula (docs/confidence.md), and the actions the
originators permit (PAP, IEP).

Everything is computed for one viewer, over what the node's release rules
let that viewer see and nothing else. The default viewer is the node's own
analyst: a domestic user of the node's nation cleared for every level of
its national classification scheme. With --as-user, a local user holding
the clearances given (each POLICY:LEVEL grants that level and those below
it), of the node's nation unless --nation says otherwise; with
--as-partner, a partner, seeing what its release sets give it.

The values found also count as sightings at the time of the run (--at)
for the early-warning detector, with the sightings the node has stored;
the rises it finds per observable, campaign and partner are printed after
the alerts (docs/early-warning.md).`,
		Example: `  tearline match /var/log/fw/drops.log
  tearline match iocs.txt --as-user j.smith --clearance GBR:OFFICIAL-SENSITIVE
  grep DROP fw.log | tearline match - --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			when := time.Now().UTC()
			if at != "" {
				t, _, err := stix.ParseTimestamp(at)
				if err != nil {
					return usageError{fmt.Errorf("--at: %w", err)}
				}
				when = t
			}
			if asPartner != "" && (asUser != "" || len(clearances) > 0) {
				return usageError{errors.New("--as-partner and --as-user are different viewers: give one")}
			}
			if asUser == "" && (len(clearances) > 0 || nation != "" || organisation != "") {
				return usageError{errors.New("--clearance, --nation and --organisation describe a local user: give --as-user too")}
			}
			in, name, err := openMatchInput(e, args[0])
			if err != nil {
				return err
			}
			defer in.Close()

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
			as, ok := s.(analytics.Store)
			if !ok {
				return errors.New("this store keeps no release classes, so nobody may see its objects; use the sqlite or postgres store")
			}
			corpus, err := analytics.Build(ctx, as, analytics.Options{Now: func() time.Time { return when }})
			if err != nil {
				return err
			}
			self := n.Config.Node.Partner
			var decider analytics.Decider
			var viewer string
			switch {
			case asPartner != "":
				code := strings.ToUpper(asPartner)
				rs, err := releaseStoreOf(s)
				if err != nil {
					return err
				}
				if decider, err = analytics.PartnerDecider(ctx, rs, code); err != nil {
					return err
				}
				viewer = "partner " + code
			default:
				code, user, cl := self, asUser, clearances
				if nation != "" {
					code = strings.ToUpper(nation)
				}
				if user == "" {
					user = "node analyst"
					if cl, err = nationalClearance(rel, self); err != nil {
						return err
					}
				}
				rc, err := localUser(code, user, organisation, cl, rel)
				if err != nil {
					return usageError{err}
				}
				if decider, err = analytics.LocalUserDecider(rel.engine, rc, when); err != nil {
					return err
				}
				viewer = fmt.Sprintf("local user %s of %s", user, code)
			}
			view, err := corpus.NewView(viewer, decider)
			if err != nil {
				return err
			}
			res, err := matchFile(corpus, view, in, name, when)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			printMatch(e.stdout, res)
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&asUser, "as-user", "", "match as this local user (with --clearance) instead of the node's analyst")
	cmd.Flags().StringSliceVar(&clearances, "clearance", nil, "the local user's clearance as POLICY:LEVEL (repeatable), e.g. GBR:SECRET")
	cmd.Flags().StringVar(&nation, "nation", "", "the local user's nation or organisation code (default the node's own)")
	cmd.Flags().StringVar(&organisation, "organisation", "", "the local user's organisation (for TLP:AMBER+STRICT)")
	cmd.Flags().StringVar(&asPartner, "as-partner", "", "match as this partner, over what its release sets give it")
	cmd.Flags().StringVar(&at, "at", "", "decide, score and count sightings as of this time (RFC 3339, UTC; default now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// nationalClearance is the default analyst's clearance: every level of the
// national scheme of the node's nation.
func nationalClearance(rel *releasing, self string) ([]string, error) {
	nat := rel.Registry.Nationality(self)
	if nat == "" {
		nat = self
	}
	sch, ok := label.LookupScheme(nat)
	if !ok {
		return nil, fmt.Errorf("the node's nation %s has no national classification scheme to clear its analyst for; give --as-user NAME --clearance POLICY:LEVEL", nat)
	}
	levels := sch.Levels()
	return []string{sch.Policy + ":" + levels[len(levels)-1]}, nil
}

func openMatchInput(e *env, arg string) (io.ReadCloser, string, error) {
	if arg == "-" {
		return io.NopCloser(e.stdin), "stdin", nil
	}
	f, err := os.Open(arg)
	if err != nil {
		return nil, "", fmt.Errorf("match: %w", err)
	}
	return f, arg, nil
}

// matchResult is what tearline match reports.
type matchResult struct {
	Viewer string    `json:"viewer"`
	File   string    `json:"file"`
	At     time.Time `json:"at"`
	// Lines and Values count the file's lines and the distinct values
	// found in them.
	Lines  int                    `json:"lines_with_values"`
	Values int                    `json:"values"`
	Alerts []analytics.Alert      `json:"alerts"`
	Seen   map[string][]int       `json:"-"`
	Rises  []analytics.Alert      `json:"rises"`
	Order  []analytics.Observable `json:"-"`
}

// matchFile extracts the values of in, records them as sightings at
// time when and returns the viewer's alerts and rises.
func matchFile(c *analytics.Corpus, v *analytics.View, in io.Reader, name string, when time.Time) (*matchResult, error) {
	res := &matchResult{Viewer: v.Name(), File: name, At: when, Seen: map[string][]int{}}
	byKey := map[string]analytics.Observable{}
	err := analytics.ExtractLines(in, func(line int, obs []analytics.Observable) error {
		res.Lines++
		for _, o := range obs {
			k := o.String()
			if _, ok := byKey[k]; !ok {
				byKey[k] = o
				res.Order = append(res.Order, o)
			}
			if l := res.Seen[k]; len(l) == 0 || l[len(l)-1] != line {
				res.Seen[k] = append(l, line)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("match %s: %w", name, err)
	}
	res.Values = len(res.Order)
	for _, o := range res.Order {
		lines := res.Seen[o.String()]
		s := analytics.Sighting{Observable: o, Source: name + ":" + strconv.Itoa(lines[0]), At: when, Count: len(lines)}
		if _, err := c.Record(s); err != nil {
			return nil, fmt.Errorf("match %s, line %d: %w", name, lines[0], err)
		}
		a, ok, err := c.Match(v, s)
		if err != nil {
			return nil, fmt.Errorf("match %s, line %d: %w", name, lines[0], err)
		}
		if ok {
			res.Alerts = append(res.Alerts, a)
		}
	}
	if res.Alerts == nil {
		res.Alerts = []analytics.Alert{}
	}
	rises, err := c.Rises(v, when)
	if err != nil {
		return nil, err
	}
	res.Rises = rises
	if res.Rises == nil {
		res.Rises = []analytics.Alert{}
	}
	return res, nil
}

func printMatch(w io.Writer, r *matchResult) {
	fmt.Fprintf(w, "%s: %d values on %d lines, matched as %s at %s\n", r.File, r.Values, r.Lines, r.Viewer, r.At.Format(time.RFC3339))
	for _, a := range r.Alerts {
		s := a.Sighting
		lines := r.Seen[s.Observable.String()]
		shown := make([]string, 0, 5)
		for i, l := range lines {
			if i == 5 {
				shown = append(shown, fmt.Sprintf("and %d more", len(lines)-5))
				break
			}
			shown = append(shown, strconv.Itoa(l))
		}
		fmt.Fprintf(w, "\nALERT %s %s (%s %s)\n", s.Observable.Kind, s.Observable.Value, plural(len(lines), "line", "lines"), strings.Join(shown, ", "))
		fmt.Fprintf(w, "  actions     %s: %s\n", a.Actions.Level, a.Actions.Text)
		fmt.Fprintf(w, "              because %s\n", a.Actions.Basis)
		for _, f := range a.Findings {
			fmt.Fprintf(w, "  confidence  %d (%s), the best of %d %s; corroborated by %d %s: %s\n",
				f.Best.Score, f.Best.Band(), len(f.Reports), plural(len(f.Reports), "report", "reports"),
				f.Corroboration, plural(f.Corroboration, "originator", "originators"), strings.Join(f.Originators, ", "))
			for _, rep := range f.Reports {
				what := rep.Reported.String()
				fmt.Fprintf(w, "  - %-13s %s in %s %s from %s\n", rep.Match, what, rep.Type, rep.Object, originatorWords(rep))
				fmt.Fprintf(w, "      label   %s\n", rep.Label)
				fmt.Fprintf(w, "      actions %s (%s)\n", rep.Actions.Level, rep.Actions.Basis)
				fmt.Fprintf(w, "      score   %s\n", assessmentWords(rep.Assessment))
			}
		}
	}
	for _, a := range r.Rises {
		t := a.Rise.Test
		fmt.Fprintf(w, "\nRISE %s %s: %d sightings in the %s from %s where %.3g were expected\n",
			a.Rise.Scope, a.Rise.Subject, t.Count, t.Width, t.Bucket.Format(time.RFC3339), t.Expected)
		fmt.Fprintf(w, "  p = %.2g (threshold %.2g) over %d buckets of history holding %d sightings\n", t.PValue, t.Alpha, t.History, t.HistoryCount)
	}
	fmt.Fprintf(w, "\n%d %s, %d %s\n", len(r.Alerts), plural(len(r.Alerts), "alert", "alerts"), len(r.Rises), plural(len(r.Rises), "rise", "rises"))
}

func originatorWords(r analytics.Report) string {
	if r.Own {
		return r.Originator + " (this node)"
	}
	return r.Originator
}

// assessmentWords writes a score with every term of its formula.
func assessmentWords(a analytics.Assessment) string {
	e := a.Evidence
	var in []string
	if e.Confidence != analytics.ConfidenceUnknown {
		in = append(in, fmt.Sprintf("confidence %d", e.Confidence))
	}
	if g := gradeWords(e.Reliability, e.Credibility); g != "" {
		in = append(in, "grade "+g)
	}
	basis := a.InformationBasis
	if len(in) > 0 {
		basis += ": " + strings.Join(in, ", ")
	}
	return fmt.Sprintf("%d (%s) = I %.2f [%s] x R %.2f = S1 %.3f; K %.3f for %d %s -> S %.3f; age %s, half-life %s -> D %.3f",
		a.Score, a.Band(), a.Information, basis, a.SourceWeight, a.Source, a.CorroborationGain, e.Corroboration,
		plural(e.Corroboration, "originator", "originators"), a.Combined, days(a.Age), days(e.HalfLife), a.Decay)
}

func gradeWords(rel byte, cred int) string {
	s := ""
	if rel != 0 {
		s += string(rune(rel))
	}
	if cred != 0 {
		s += strconv.Itoa(cred)
	}
	return s
}

func days(d time.Duration) string {
	return strconv.FormatFloat(math.Round(d.Hours()/24*10)/10, 'f', -1, 64) + "d"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
