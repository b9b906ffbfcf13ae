package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/taxii/client"
)

func newPushCmd(e *env) *cobra.Command {
	var (
		dir, collection, from, addedAfter, versions string
		types, ids                                  []string
		local, verbose                              bool
		batch                                       int
		creds                                       taxiiCredentials
	)
	cmd := &cobra.Command{
		Use:   "push URL --collection ID [--type T] [--id ID] [--added-after TIME] [--local]",
		Short: "Post objects to a TAXII 2.1 collection: to a partner only what the release engine allows it",
		Long: `Post the selected objects of a collection of this node (--from) to a TAXII 2.1
collection, in envelopes no larger than the server's max_content_length, and
report, from the status the server gives back, which objects it stored and
which it refused and why.

Nothing leaves the node unless a release decision allowed it. When URL is at
an endpoint on a pinned partner's card, the node connects with its own TLS
identity (mutual TLS, the partner's certificate checked against its card)
and sends only the objects that the release engine allows that partner to
receive now, under the node's agreements, with the marking definitions
their labels need; each envelope's release is recorded in the audit log
before it is sent. A URL that is not a pinned partner's endpoint is refused,
unless --local says it is a tool of this node's own organisation (a SIEM, a
TAXII server of the same agency): then the objects selected are sent as
they are, with the credentials given, and the export is recorded in the
audit log.

Exit status: 0 when the server stored every object sent, 3 when it refused
some, 1 when the push could not finish.`,
		Example: `  tearline push https://tearline.fra.example:8443 --collection default --type indicator
  tearline push https://siem.gbr.example/taxii2/ --collection feeds --local --token-file /run/secrets/siem-token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if collection == "" {
				return usageError{errors.New("push needs --collection ID, the server's collection to post to (id, alias or title)")}
			}
			if batch <= 0 {
				return usageError{errors.New("--batch must be a positive number of objects per envelope")}
			}
			q := tearline.ObjectQuery{Collection: from, Types: types, IDs: ids}
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
			if addedAfter != "" {
				t, _, err := stix.ParseTimestamp(addedAfter)
				if err != nil {
					return usageError{fmt.Errorf("--added-after: %w", err)}
				}
				q.AddedAfter = t
			}
			if err := checkTAXIIURL(args[0]); err != nil {
				return usageError{err}
			}
			ctx := cmd.Context()
			n, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.Collection(ctx, from); err != nil {
				return fmt.Errorf("--from %s: %w", from, err)
			}
			// Who the objects would go to is settled before anything is
			// read or any connection made.
			code, err := pinnedPartnerAt(n, args[0])
			if err != nil {
				return err
			}
			switch {
			case code == "" && !local:
				return fmt.Errorf("push refused, nothing sent: %s is not at an endpoint on any pinned partner's card, so no release decision covers it; "+
					"if it is a tool of this node's own organisation give --local, and if it is a partner's node pin its card naming that endpoint ('tearline partner add')", args[0])
			case code != "" && local:
				return usageError{fmt.Errorf("%s is %s's endpoint: a push to a partner goes through the release engine, so --local does not apply", args[0], code)}
			}
			p := &pusher{e: e, n: n, s: s, from: from, verbose: verbose, partner: code, now: time.Now().UTC()}
			if code != "" {
				if p.rel, err = nodeReleasing(n); err != nil {
					return err
				}
				p.rc = p.rel.recipient(code, p.now)
			}
			if p.r, err = e.openRemote(ctx, n, args[0], collection, creds); err != nil {
				return err
			}
			if !p.r.coll.CanWrite {
				return fmt.Errorf("push refused by the server, nothing sent: %s does not let this node write to collection %s (can_write is false); ask its operator for write access, or choose a writable collection",
					p.r.who(), printable(p.r.coll.ID))
			}
			root, err := p.r.c.APIRoot(ctx, p.r.root)
			if err != nil {
				return err
			}
			if !root.SupportsTAXII21() {
				return fmt.Errorf("the API root %s does not list TAXII 2.1 among its versions (%s)", p.r.root, printable(strings.Join(root.Versions, ", ")))
			}
			p.pack = client.Packer{MaxBytes: root.MaxContentLength, MaxObjects: batch}
			if err := p.push(ctx, q); err != nil {
				p.report()
				return err
			}
			p.report()
			if p.failed > 0 {
				return &exitError{code: 3, err: fmt.Errorf("the server refused %d of %d objects sent", p.failed, p.sent)}
			}
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&collection, "collection", "", "the server's collection to post to: its id, alias or title")
	cmd.Flags().StringVar(&from, "from", defaultCollection, "this node's collection to push from (id or alias)")
	cmd.Flags().StringSliceVar(&types, "type", nil, "only objects of this STIX type (repeatable, or comma-separated)")
	cmd.Flags().StringSliceVar(&ids, "id", nil, "only the object with this id (repeatable, or comma-separated)")
	cmd.Flags().StringVar(&addedAfter, "added-after", "", "only objects this node added after this time (RFC 3339, UTC)")
	cmd.Flags().StringVar(&versions, "versions", "all", "which versions of each object: all, last or first")
	cmd.Flags().BoolVar(&local, "local", false, "URL is a tool of this node's own organisation, not a partner: send without release decisions")
	cmd.Flags().IntVar(&batch, "batch", 1000, "at most this many objects per envelope")
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every object the server stored, not only those it refused")
	creds.addFlags(cmd)
	return cmd
}

// pusher sends what one push selected.
type pusher struct {
	e       *env
	n       *node.Node
	s       store
	r       *remote
	from    string
	verbose bool
	now     time.Time

	// partner is the recipient's code; "" for a --local push, which has
	// no release decision.
	partner string
	rel     *releasing
	rc      *tearline.Recipient

	pack      client.Packer
	envelopes int
	// queued are the marking definitions already in an envelope.
	queued   map[string]bool
	withheld map[tearline.Outcome]int
	tooLarge int
	sent     int
	stored   int
	failed   int
	pending  int
}

// push selects the objects page by page and sends them in envelopes as
// they fill.
func (p *pusher) push(ctx context.Context, q tearline.ObjectQuery) error {
	p.queued = map[string]bool{}
	p.withheld = map[tearline.Outcome]int{}
	defs := label.Definitions{}
	q.Limit = 1000
	for {
		page, err := p.s.Objects(ctx, q)
		if err != nil {
			return err
		}
		var send []*tearline.StoredObject
		needed := map[string]bool{}
		for i := range page.Objects {
			o := &page.Objects[i]
			if o.Type == "marking-definition" {
				if p.partner != "" {
					// A marking definition goes to a partner with what it
					// labels, never on its own.
					continue
				}
				if p.queued[o.ID] {
					continue
				}
				p.queued[o.ID] = true
			} else if p.partner != "" {
				subject, _, err := subjectFor(ctx, p.s, p.from, o.JSON, p.n.Config.Node.Partner, defs)
				if err != nil {
					return err
				}
				if v := p.rel.engine.Verdict(&policy.Request{Subject: subject, Recipient: p.rc, Action: tearline.Release, Time: p.now}); v != tearline.Allow {
					p.withheld[v]++
					continue
				}
			}
			refs, err := markingRefs(o.JSON)
			if err != nil {
				return fmt.Errorf("stored object %s: %w", o.ID, err)
			}
			for _, r := range refs {
				if !p.queued[r] {
					needed[r] = true
				}
			}
			send = append(send, o)
		}
		// The marking definitions the objects need go before them, so that
		// the receiver can read each label as the object arrives.
		if len(needed) > 0 {
			want := make([]string, 0, len(needed))
			for id := range needed {
				want = append(want, id)
			}
			mp, err := p.s.Objects(ctx, tearline.ObjectQuery{Collection: p.from, IDs: want, Types: []string{"marking-definition"}, Version: tearline.VersionFilter{All: true}})
			if err != nil {
				return err
			}
			for i := range mp.Objects {
				p.queued[mp.Objects[i].ID] = true
				if err := p.add(ctx, &mp.Objects[i]); err != nil {
					return err
				}
			}
		}
		for _, o := range send {
			if err := p.add(ctx, o); err != nil {
				return err
			}
		}
		if !page.More || len(page.Objects) == 0 {
			break
		}
		q.After = page.Objects[len(page.Objects)-1].DateAdded
	}
	if p.pack.Len() > 0 {
		return p.send(ctx, p.pack.Flush())
	}
	return nil
}

// markingRefs lists the marking definitions an object refers to, in its
// object and granular markings.
func markingRefs(data []byte) ([]string, error) {
	var o struct {
		Object   []string `json:"object_marking_refs"`
		Granular []struct {
			Ref string `json:"marking_ref"`
		} `json:"granular_markings"`
	}
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, err
	}
	refs := o.Object
	for _, g := range o.Granular {
		if g.Ref != "" {
			refs = append(refs, g.Ref)
		}
	}
	return refs, nil
}

// add puts o in the envelope being filled, sending the previous one when
// o does not fit.
func (p *pusher) add(ctx context.Context, o *tearline.StoredObject) error {
	full, err := p.pack.Add(json.RawMessage(o.JSON))
	if errors.Is(err, client.ErrObjectTooLarge) {
		p.tooLarge++
		fmt.Fprintf(p.e.stderr, "not sent: %s (%s bytes) is larger than the server's max_content_length of %s bytes\n",
			o.ID, groupDigits(len(o.JSON)), groupDigits(int(p.pack.MaxBytes)))
		return nil
	}
	if err != nil {
		return err
	}
	if full != nil {
		return p.send(ctx, full)
	}
	return nil
}

// send records the release of one envelope in the audit log, posts it and
// waits for its status. The record comes first: if it cannot be written,
// nothing is sent.
func (p *pusher) send(ctx context.Context, objs []json.RawMessage) error {
	p.envelopes++
	ids := make([]string, len(objs))
	for i, o := range objs {
		var v struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(o, &v); err != nil {
			return err
		}
		ids[i] = v.ID
	}
	details := map[string]string{"transport": "taxii", "api_root": p.r.root, "collection": p.r.coll.ID,
		"envelope": strconv.Itoa(p.envelopes), "objects": strconv.Itoa(len(objs))}
	kind := ledger.KindObjectExported
	if p.partner != "" {
		kind = ledger.KindReleaseDecided
		details["recipient"] = p.partner
		details["action"] = "release"
	} else {
		details["destination"] = "local"
	}
	// Ids are split so that each record stays small.
	const idsPerRecord = 500
	for start := 0; start < len(ids); start += idsPerRecord {
		part := ids[start:min(start+idsPerRecord, len(ids))]
		if err := p.e.record(ctx, p.n, p.s, ledger.Event{Kind: kind, Subjects: part, Details: details}); err != nil {
			return fmt.Errorf("envelope %d not sent: %w", p.envelopes, err)
		}
	}
	st, err := p.r.c.AddObjects(ctx, p.r.root, p.r.coll.ID, objs)
	if err != nil {
		return fmt.Errorf("envelope %d (%d objects): %w", p.envelopes, len(objs), err)
	}
	p.sent += len(objs)
	if st, err = p.r.c.WaitForStatus(ctx, p.r.root, st, time.Second); err != nil {
		p.pending += st.PendingCount
		p.stored += st.SuccessCount
		p.failed += st.FailureCount
		return fmt.Errorf("envelope %d: %w", p.envelopes, err)
	}
	p.stored += st.SuccessCount
	p.failed += st.FailureCount
	fmt.Fprintf(p.e.stdout, "envelope %d: %s objects sent, %s stored, %s refused (status %s)\n",
		p.envelopes, groupDigits(len(objs)), groupDigits(st.SuccessCount), groupDigits(st.FailureCount), printable(st.ID))
	for _, f := range st.Failures {
		fmt.Fprintf(p.e.stderr, "refused by the server: %s version %s: %s\n", printable(f.ID), printable(f.Version), printable(f.Message))
	}
	if p.verbose {
		for _, s := range st.Successes {
			fmt.Fprintf(p.e.stdout, "stored: %s version %s\n", printable(s.ID), printable(s.Version))
		}
	}
	return nil
}

func (p *pusher) report() {
	var b strings.Builder
	fmt.Fprintf(&b, "pushed to collection %s of %s: %s objects sent in %d envelope(s), %s stored, %s refused",
		printable(p.r.coll.ID), p.r.who(), groupDigits(p.sent), p.envelopes, groupDigits(p.stored), groupDigits(p.failed))
	if p.pending > 0 {
		fmt.Fprintf(&b, ", %s still pending", groupDigits(p.pending))
	}
	if p.tooLarge > 0 {
		fmt.Fprintf(&b, ", %d too large to send", p.tooLarge)
	}
	if p.partner != "" {
		fmt.Fprintf(&b, "; withheld by the release engine: %s", outcomes(p.withheld))
		if len(p.withheld) > 0 {
			fmt.Fprintf(&b, " ('tearline explain ID --to %s' says why for one object)", p.partner)
		}
	}
	fmt.Fprintln(p.e.stdout, b.String())
}

// printable shows text from a server as it is when it is plain, quoted
// with escapes otherwise, so that it cannot drive the terminal.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
