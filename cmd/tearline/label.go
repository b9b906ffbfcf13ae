package main

import (
	"bufio"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/label"
)

func newLabelCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "label",
		Short: "Check banner markings and list classification schemes",
	}
	check := &cobra.Command{
		Use:   "check BANNER...",
		Short: "Check banner markings and print them in canonical form",
		Long: `Check that each banner is a well-formed, consistent marking and print it in
canonical form, one per line. A banner that breaks a rule is reported with the
rule's name and what to do about it.

A banner is a list of parts separated by "//":

  classification   SECRET, TOP SECRET (US, as CAPCO writes them); NATO SECRET, COSMIC
                   TOP SECRET, NS ...; SECRET UE/EU SECRET, EU RESTRICTED ...; other
                   schemes as POLICY LEVEL: GBR OFFICIAL-SENSITIVE, UK SECRET, FR SECRET,
                   DEU GEHEIM (see 'tearline label schemes')
  controls         NOFORN (NF), ORCON (OC), REL TO USA, GBR, FVEY (REL), RELIDO,
                   DISPLAY ONLY FRA, EYES ONLY USA, GBR, FOUO, ATOMAL
  categories       RESTRICTIVE|PERMISSIVE|NARROWING|INFORMATIVE Name: V1, V2
  handling         H0, H1, H2, H3 free text (Europol SIENA)
  protocols        TLP:CLEAR|GREEN|AMBER|AMBER+STRICT|RED, PAP:CLEAR|GREEN|AMBER|RED,
                   IEP:ENCRYPT=MUST,ACTIONS=NONE,NOTIFY=MAY,TLP=AMBER,ATTRIBUTION=MUST,
                   RESALE=MAY,START=2025-01-01,END=2025-12-31
  provenance       ORIGINATOR GBR, FRA; PURPOSE counter-terrorism; PERSONAL DATA GDPR;
                   GRADE B2; EXPIRES 2025-06-30; RETAIN UNTIL 2026-01-01;
                   REVIEW BY 2025-03-01; SUPERSEDED BY marking-definition--...;
                   EXERCISE name

Key words may be written in any case; '-' reads banners from standard input,
one per line.

Exit status: 0 when every banner is valid, 1 when one breaks a rule, 2 on a
usage error.`,
		Example: `  tearline label check "secret//rel to gbr, usa, fvey"
  tearline label check "SECRET//REL TO USA, GBR//TLP:AMBER" "UK OFFICIAL-SENSITIVE//H2"
  tearline label check - < banners.txt`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("give at least one banner (see '%s --help')", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			banners, err := e.banners(args)
			if err != nil {
				return err
			}
			var failed []error
			for _, b := range banners {
				l, err := label.Parse(b)
				if err != nil {
					failed = append(failed, describeRule(b, err))
					continue
				}
				fmt.Fprintln(e.stdout, label.Format(l))
			}
			switch len(failed) {
			case 0:
				return nil
			case 1:
				return failed[0]
			}
			for _, err := range failed {
				fmt.Fprintf(e.stderr, "%v\n", err)
			}
			return fmt.Errorf("%d of %d banners break a rule", len(failed), len(banners))
		},
	}
	schemes := &cobra.Command{
		Use:   "schemes [POLICY]",
		Short: "List the classification schemes and their levels, lowest first",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("give at most one policy (see '%s --help')", cmd.CommandPath())}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				s, ok := label.LookupScheme(strings.ToUpper(args[0]))
				if !ok {
					return fmt.Errorf("%q is not a known classification policy (list them with 'tearline label schemes')", args[0])
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", s.Policy, s.Name)
				if len(s.Prefixes) > 0 {
					fmt.Fprintf(e.stdout, "  banners may also write it %s\n", strings.Join(s.Prefixes, ", "))
				}
				for i, l := range s.Scale {
					note := ""
					if len(l.Aliases) > 0 {
						note = "  (also " + strings.Join(l.Aliases, ", ") + ")"
					}
					if l.Unclassified {
						note += "  [unclassified]"
					}
					fmt.Fprintf(e.stdout, "  %d  %s%s\n", i, l.Name, note)
				}
				return nil
			}
			for _, s := range label.Schemes() {
				fmt.Fprintf(e.stdout, "%-6s %s\n", s.Policy, strings.Join(s.Levels(), " < "))
			}
			return nil
		},
	}
	cmd.AddCommand(check, schemes)
	return cmd
}

// banners returns the banners named on the command line, reading those
// of '-' from standard input, one per non-blank line.
func (e *env) banners(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a != "-" {
			out = append(out, a)
			continue
		}
		sc := bufio.NewScanner(e.stdin)
		sc.Buffer(make([]byte, 0, 4096), 1<<16)
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" {
				out = append(out, line)
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read banners from standard input: %w", err)
		}
	}
	return out, nil
}

// describeRule says which rule a banner breaks and what to do.
func describeRule(banner string, err error) error {
	var re *label.RuleError
	if !errors.As(err, &re) {
		return fmt.Errorf("%q: %w", banner, err)
	}
	msg := fmt.Sprintf("%q breaks rule %s: %s", banner, re.Rule, re.Msg)
	if re.Fix != "" {
		msg += "\n  what to do: " + re.Fix
	}
	return errors.New(msg)
}
