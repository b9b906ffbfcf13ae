package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/node"
)

func newImportCmd(e *env) *cobra.Command {
	var (
		dir, collection, rejectsFile, banner string
		batch                                int
		asJSON                               bool
	)
	cmd := &cobra.Command{
		Use:   "import FILE... [--collection C]",
		Short: "Import STIX 2.1 bundles or JSON lines into the node",
		Long: `Import STIX 2.1 content: bundles, bare objects, or JSON lines (one object or
bundle per line); '-' reads standard input. Files of any size stream through.

Every object is validated against STIX 2.1. Valid objects are stored in
atomic batches; an object version already stored is counted as already
present, so an interrupted import can simply be run again. Rejected objects
are listed with the rule they break, their index in the input, their id and
the JSON path of the problem.

Exit status: 0 when every object was stored or already present, 3 when some
were rejected, 1 when the import could not finish.`,
		Example: `  tearline import apt1.json
  tearline import --collection feeds indicators.jsonl
  zcat big.json.gz | tearline import -`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.Collection(ctx, collection); err != nil {
				return fmt.Errorf("%w (list collections with 'tearline collection list', create one with 'tearline collection create NAME')", err)
			}
			var marks *markings
			if banner == "" {
				// The collection's default label, if it has one.
				if bs, err := bannerStoreOf(s); err == nil {
					c, err := s.Collection(ctx, collection)
					if err != nil {
						return err
					}
					if banner, err = bs.CollectionBanner(ctx, c.ID); err != nil {
						return err
					}
				}
			}
			if banner != "" {
				if marks, err = bannerMarkings(banner); err != nil {
					return usageError{fmt.Errorf("--banner: %w", err)}
				}
			}
			var rejects *json.Encoder
			if rejectsFile != "" {
				f, err := os.Create(rejectsFile)
				if err != nil {
					return err
				}
				defer f.Close()
				w := bufio.NewWriter(f)
				defer w.Flush()
				rejects = json.NewEncoder(w)
			}
			rel, err := nodeReleasing(n)
			if err != nil {
				return err
			}
			var total ingest.Summary
			for _, name := range args {
				sum, err := e.importFile(ctx, n, s, rel, name, collection, batch, asJSON, rejects, marks)
				total.Read += sum.Read
				total.Added += sum.Added
				total.Present += sum.Present
				total.Rejected += sum.Rejected
				total.Elapsed += sum.Elapsed
				if err != nil {
					return fmt.Errorf("import %s: %w (objects committed before this point are kept; run the import again to resume)", name, err)
				}
			}
			if err := e.updateReleases(ctx, s, rel, n.Config.Node.Partner+" import", asJSON); err != nil {
				return err
			}
			if asJSON {
				json.NewEncoder(e.stdout).Encode(summaryJSON(total))
			}
			if total.Rejected > 0 {
				hint := ""
				if rejectsFile == "" {
					hint = "; --rejects FILE writes them all as JSON lines"
				}
				return &exitError{code: 3, err: fmt.Errorf("%d of %d objects rejected%s", total.Rejected, total.Read, hint)}
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVarP(&collection, "collection", "c", defaultCollection, "collection to import into (id or alias)")
	cmd.Flags().IntVar(&batch, "batch", 10000, "objects per database transaction")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON on standard output")
	cmd.Flags().StringVar(&rejectsFile, "rejects", "", "write every rejected object's reason to this file as JSON lines")
	cmd.Flags().StringVar(&banner, "banner", "", `label objects that carry no markings of their own, e.g. "SECRET//REL TO USA, GBR"`)
	return cmd
}

type jsonSummary struct {
	Read          int     `json:"read"`
	Added         int     `json:"added"`
	Present       int     `json:"already_present"`
	Rejected      int     `json:"rejected"`
	Seconds       float64 `json:"seconds"`
	ObjectsPerSec float64 `json:"objects_per_second"`
}

func summaryJSON(s ingest.Summary) jsonSummary {
	return jsonSummary{Read: s.Read, Added: s.Added, Present: s.Present, Rejected: s.Rejected,
		Seconds: s.Elapsed.Seconds(), ObjectsPerSec: s.Rate()}
}

// markings are the marking definitions (as JSON lines) and refs of a label
// given on the command line.
type markings struct {
	defs []byte
	refs []string
}

func bannerMarkings(banner string) (*markings, error) {
	l, err := label.Parse(banner)
	if err != nil {
		return nil, err
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		return nil, err
	}
	m := &markings{refs: refs}
	for _, d := range defs {
		m.defs = append(append(m.defs, d...), '\n')
	}
	return m, nil
}

// maxEnvelopeFile bounds an envelope read whole for import.
const maxEnvelopeFile = 1 << 30

// maxRejectsShown bounds the rejections printed on the terminal.
const maxRejectsShown = 20

func (e *env) importFile(ctx context.Context, n *node.Node, s store, rel *releasing, name, collection string, batch int, quiet bool, rejects *json.Encoder, marks *markings) (ingest.Summary, error) {
	var r io.Reader
	label := name
	if name == "-" {
		r = e.stdin
		label = "standard input"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return ingest.Summary{}, err
		}
		defer f.Close()
		r = f
		label = filepath.Base(name)
	}
	// An envelope sealed by a partner for offline transfer is opened and
	// verified whole; anything else is STIX, streamed.
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(8); envelope.IsEnvelope(head) {
		data, err := io.ReadAll(io.LimitReader(br, maxEnvelopeFile+1))
		if err != nil {
			return ingest.Summary{}, err
		}
		if len(data) > maxEnvelopeFile {
			return ingest.Summary{}, fmt.Errorf("envelope larger than %d bytes", maxEnvelopeFile)
		}
		return e.importEnvelope(ctx, n, s, data, collection, label)
	}
	r = br
	var markRefs []string
	if marks != nil {
		// The label's marking definitions go in first, so that the objects
		// after them are labelled by them.
		r = io.MultiReader(bytes.NewReader(marks.defs), br)
		markRefs = marks.refs
	}
	tty := isTerminal(e.stderr)
	shown := 0
	var lastDraw time.Time
	opts := ingest.Options{
		Collection: collection,
		BatchSize:  batch,
		Markings:   markRefs,
		Classify:   rel.classifier(),
		Reject: func(rej ingest.Rejection) {
			if rejects != nil {
				rejects.Encode(map[string]any{"file": name, "index": rej.Index, "id": rej.ID, "rule": rej.Rule, "error": rej.Error()})
			}
			if shown < maxRejectsShown {
				if tty {
					fmt.Fprint(e.stderr, "\r\033[K")
				}
				fmt.Fprintf(e.stderr, "%s: rejected %v\n", label, rej.Err)
			} else if shown == maxRejectsShown {
				fmt.Fprintf(e.stderr, "%s: further rejections not shown\n", label)
			}
			shown++
		},
	}
	if tty && !quiet {
		opts.Progress = func(sum ingest.Summary) {
			if time.Since(lastDraw) < 100*time.Millisecond {
				return
			}
			lastDraw = time.Now()
			fmt.Fprintf(e.stderr, "\r\033[K%s: %s objects  %s/s", label, groupDigits(sum.Read), groupDigits(int(sum.Rate())))
		}
	}
	sum, err := ingest.Stream(ctx, s, r, opts)
	if tty && !quiet {
		fmt.Fprint(e.stderr, "\r\033[K")
	}
	if !quiet {
		fmt.Fprintf(e.stdout, "%s: %s read, %s added, %s already present, %s rejected (%s objects/s)\n",
			label, groupDigits(sum.Read), groupDigits(sum.Added), groupDigits(sum.Present), groupDigits(sum.Rejected), groupDigits(int(sum.Rate())))
	}
	if errors.Is(err, context.Canceled) {
		return sum, errors.New("interrupted")
	}
	return sum, err
}

// isTerminal reports whether w is a character device, where a live
// progress line makes sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// groupDigits writes n with thousands separators: 1234567 -> 1,234,567.
func groupDigits(n int) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
