package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/exercise"
)

func newExerciseCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "exercise",
		Short: "Run joint exercises: scripted multi-nation scenarios on a real federation, scored",
	}
	cmd.AddCommand(newExerciseRunCmd(e), newExerciseListCmd(e))
	return cmd
}

func newExerciseListCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the built-in scenarios",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, id := range exercise.BuiltinIDs() {
				sc, _, err := exercise.Builtin(id)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%-16s %s (%d nations, %d injects, %d expectations)\n", id, sc.Title, len(sc.Nations), len(sc.Timeline), len(sc.Expect))
			}
			return nil
		},
	}
}

func newExerciseRunCmd(e *env) *cobra.Command {
	var (
		speed       float64
		report, dir string
	)
	cmd := &cobra.Command{
		Use:   "run SCENARIO [--speed 60] [--report DIR] [--dir DIR]",
		Short: "Play a scenario on a real federation of nodes and score it",
		Long: `Start one real node per nation of the scenario (each with its own directory,
database, keys and mutual-TLS listener on 127.0.0.1, pinned to the others,
configured as an exercise node that releases the exercise's material only
to its participants), and one node per community hub of the scenario,
through which the nations it links reach each other with no direct link;
play the timeline with an accelerated clock, and score the expectations.
A key rotation inject stops the nation's node, rotates the key, has every
partner pin the re-issued card on its fingerprint, and starts it again.
Every hub's database files are read as raw bytes for the exercise's
material in the clear, which is a policy violation. SCENARIO is a file or
the name of a built-in scenario ('tearline exercise list').

The scorecard is printed and, with --report, written as scorecard.json and
scorecard.html. The exit status is 0 when every expectation is met and no
policy was violated, 3 otherwise.`,
		Example: `  tearline exercise run five-nations --speed 60 --report ./scorecard
  tearline exercise run my-scenario.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			sc, err := loadScenario(args[0])
			if err != nil {
				return err
			}
			card, err := e.runExercise(cmd.Context(), sc, dir, speed, report, nil)
			if err != nil {
				return err
			}
			if !card.Passed() {
				return &exitError{code: 3, err: fmt.Errorf("exercise %s: %d expectations missed, %d policy violations", sc.ID, card.Missed, len(card.Violations))}
			}
			return nil
		},
	}
	cmd.Flags().Float64Var(&speed, "speed", 60, "scenario seconds per real second")
	cmd.Flags().StringVar(&report, "report", "", "write scorecard.json and scorecard.html to this directory")
	cmd.Flags().StringVar(&dir, "dir", "", "keep the nodes in this new directory (default: a temporary one, removed after)")
	return cmd
}

func loadScenario(arg string) (*exercise.Scenario, error) {
	if data, err := os.ReadFile(arg); err == nil {
		sc, err := exercise.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", arg, err)
		}
		return sc, nil
	} else if strings.ContainsAny(arg, "/.") {
		return nil, err
	}
	sc, _, err := exercise.Builtin(arg)
	return sc, err
}

// runExercise starts the federation, plays sc and writes the scorecard.
// ready, if set, is called with the running federation after the run and
// before it is stopped (the demo keeps it running there).
func (e *env) runExercise(ctx context.Context, sc *exercise.Scenario, dir string, speed float64, report string, ready func(*exerciseFed) error) (*exercise.Scorecard, error) {
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tearline-exercise-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	start := time.Now()
	hubs := ""
	if len(sc.Hubs) > 0 {
		hubs = fmt.Sprintf(" and %d community hub(s) (%s)", len(sc.Hubs), strings.Join(sc.HubCodes(), ", "))
	}
	fmt.Fprintf(e.stdout, "exercise %s: starting %d nodes (%s)%s\n", sc.ID, len(sc.Nations), strings.Join(sc.NationCodes(), ", "), hubs)
	f, err := newExerciseFed(ctx, sc, dir, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("exercise %s: %w", sc.ID, err)
	}
	defer f.Close()
	fmt.Fprintf(e.stdout, "exercise %s: federation up in %s; playing %d injects at %gx\n", sc.ID, time.Since(start).Round(time.Millisecond), len(sc.Timeline), speed)
	card, err := exercise.Run(ctx, sc, f, exercise.Options{Speed: speed, Progress: func(ev exercise.Event) {
		state := "played"
		if ev.Error != "" {
			state = "FAILED: " + ev.Error
		}
		fmt.Fprintf(e.stdout, "  %7s  %-10s %-4s %s  %s\n", ev.At.Round(time.Second), ev.Kind, ev.Nation, ev.Detail, state)
	}})
	if err != nil {
		return nil, err
	}
	printScorecard(e.stdout, card)
	if report != "" {
		if err := writeScorecard(report, card); err != nil {
			return card, err
		}
		fmt.Fprintf(e.stdout, "scorecard written to %s\n", filepath.Join(report, "scorecard.html"))
	}
	if ready != nil {
		if err := ready(f); err != nil {
			return card, err
		}
	}
	return card, nil
}

func writeScorecard(dir string, card *exercise.Scorecard) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{"scorecard.json": card.WriteJSON, "scorecard.html": card.WriteHTML} {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := write(f); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func printScorecard(w io.Writer, c *exercise.Scorecard) {
	verdict := "PASSED"
	if !c.Passed() {
		verdict = "FAILED"
	}
	fmt.Fprintf(w, "\n%s: %d expectations met, %d missed, %d policy violations\n", verdict, c.Met, c.Missed, len(c.Violations))
	for _, r := range c.Results {
		if !r.Met {
			fmt.Fprintf(w, "  missed  %-8s %-4s %-20s %s\n", r.Kind, r.Nation, r.Object, r.Why)
		}
	}
	for _, v := range c.Violations {
		fmt.Fprintf(w, "  VIOLATION  %s\n", v)
	}
	for _, h := range c.HubChecks {
		found := "nothing of the exercise's material in the clear"
		switch {
		case h.Error != "":
			found = "not checked: " + h.Error
		case len(h.Leaks) > 0:
			found = "IN THE CLEAR: " + strings.Join(h.Leaks, "; ")
		}
		fmt.Fprintf(w, "  hub %s: %d files, %d bytes read raw, %d strings searched: %s\n", h.Hub, h.Files, h.Bytes, h.Searched, found)
	}
	for _, l := range c.Links {
		fmt.Fprintf(w, "  time to share %-10s %d objects, median %s, slowest %s\n", l.Link, l.Objects, l.Median, l.Max)
	}
}
