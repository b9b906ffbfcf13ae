package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/taxii/client"
)

func newPullCmd(e *env) *cobra.Command {
	var (
		dir, collection, into, since, banner, versions string
		every                                          time.Duration
		limit                                          int
		creds                                          taxiiCredentials
	)
	cmd := &cobra.Command{
		Use:   "pull URL --collection ID [--into LOCAL-COLLECTION] [--every 5m] [--banner BANNER] [--since TIME]",
		Short: "Ingest a collection from a TAXII 2.1 server, resuming where the last pull ended",
		Long: `Read a collection of any TAXII 2.1 server page by page and store its objects
in a collection of this node, through the same path as 'tearline import':
every object is validated, labels are read from its markings, conflicting
markings are rejected with the rule they break, and every object added is
recorded in the audit log. An invalid object is reported with its page and
index and the others are kept.

URL is the server (https://host:port, whose discovery names the API root) or
an API root. When URL is at an endpoint on a pinned partner's card, the node
authenticates with its own TLS identity over mutual TLS, and the partner's
certificate must be the one pinned; otherwise the server's certificate is
checked against the system's CAs (or --ca-file), with --user and
--password-file (HTTP Basic) or --token-file (bearer token) if it wants
credentials.

After each page is committed, the date the server added its last object is
kept in pull-state/ in the node directory, per server, collection and local
collection; the next pull asks only for what was added after it, so an
interrupted pull resumes without loss. An object received twice is stored
once. With --every the pull repeats until interrupted; an interrupt stops it
between pages.

Exit status: 0 when every object was stored or already present, 3 when some
were rejected, 1 when the pull could not finish.`,
		Example: `  tearline pull https://tearline.gbr.example:8443 --collection default
  tearline pull https://misp.example.gov/taxii2/ --collection 91a7b528-80eb-42ed-a74d-c6fbd5a26116 \
      --token-file /run/secrets/misp-token --banner "OFFICIAL//REL TO GBR" --every 5m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if collection == "" {
				return usageError{errors.New("pull needs --collection ID, the server's collection to read (id, alias or title)")}
			}
			if limit <= 0 {
				return usageError{errors.New("--limit must be a positive number of objects per page")}
			}
			if every < 0 || every > 0 && every < time.Second {
				return usageError{errors.New("--every must be at least 1s")}
			}
			if versions != "all" && versions != "last" {
				return usageError{fmt.Errorf("--versions %q: use all or last", versions)}
			}
			var start time.Time
			if since != "" {
				t, _, err := stix.ParseTimestamp(since)
				if err != nil {
					return usageError{fmt.Errorf("--since: %w", err)}
				}
				start = t
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
			local, err := s.Collection(ctx, into)
			if err != nil {
				return fmt.Errorf("--into %s: %w (list collections with 'tearline collection list', create one with 'tearline collection create NAME')", into, err)
			}
			var marks *markings
			if banner != "" {
				if marks, err = bannerMarkings(banner); err != nil {
					return usageError{fmt.Errorf("--banner: %w", err)}
				}
			}
			r, err := e.openRemote(ctx, n, args[0], collection, creds)
			if err != nil {
				return err
			}
			if !r.coll.CanRead {
				return fmt.Errorf("%s says this node may not read collection %s (can_read is false); ask its operator for read access", r.who(), printable(r.coll.ID))
			}
			p := &puller{e: e, n: n, s: s, r: r, into: local.ID, intoName: into, marks: marks, limit: limit, versions: versions}
			for run := 0; ; run++ {
				sum, err := p.pullOnce(ctx, start)
				start = time.Time{} // --since applies to the first run only
				if every == 0 {
					if err != nil {
						return err
					}
					if sum.Rejected > 0 {
						return &exitError{code: 3, err: fmt.Errorf("%d of %d objects rejected", sum.Rejected, sum.Read)}
					}
					return nil
				}
				if err != nil && ctx.Err() == nil {
					// A repeating pull outlives a server's bad minute: the
					// error is reported and the next run tries again from
					// the last committed page.
					fmt.Fprintf(e.stderr, "tearline: pull: %v (trying again in %s)\n", err, every)
				}
				t := time.NewTimer(every)
				select {
				case <-ctx.Done():
					t.Stop()
					fmt.Fprintf(e.stdout, "pull stopped after %d run(s); the next pull resumes where this one ended\n", run+1)
					return nil
				case <-t.C:
				}
			}
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&collection, "collection", "", "the server's collection to read: its id, alias or title")
	cmd.Flags().StringVar(&into, "into", defaultCollection, "this node's collection to store into (id or alias)")
	cmd.Flags().DurationVar(&every, "every", 0, "pull again at this interval until interrupted (e.g. 5m)")
	cmd.Flags().StringVar(&since, "since", "", "ask for objects the server added after this time (RFC 3339, UTC), instead of where the last pull ended")
	cmd.Flags().StringVar(&banner, "banner", "", `label objects that carry no markings of their own, as 'import --banner' does, e.g. "SECRET//REL TO USA, GBR"`)
	cmd.Flags().IntVar(&limit, "limit", 1000, "objects to ask for per page")
	cmd.Flags().StringVar(&versions, "versions", "all", "which versions of each object to ask for: all or last")
	creds.addFlags(cmd)
	return cmd
}

// taxiiCredentials are the flags that authenticate to a TAXII server that
// is not a pinned partner.
type taxiiCredentials struct {
	user, passwordFile, tokenFile, caFile string
}

func (c *taxiiCredentials) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.user, "user", "", "user name for HTTP Basic authentication (with --password-file)")
	cmd.Flags().StringVar(&c.passwordFile, "password-file", "", "file holding the password for --user (mode 600)")
	cmd.Flags().StringVar(&c.tokenFile, "token-file", "", "file holding a bearer token (mode 600)")
	cmd.Flags().StringVar(&c.caFile, "ca-file", "", "PEM file of the CA certificates to trust for a server that is not a pinned partner (default: the system's)")
}

// credentials reads the secret files. Secrets are never flags: they would
// show in the process list and the shell history.
func (c *taxiiCredentials) credentials() (client.Credentials, error) {
	switch {
	case c.tokenFile != "" && (c.user != "" || c.passwordFile != ""):
		return nil, usageError{errors.New("give either --token-file or --user with --password-file, not both")}
	case (c.user == "") != (c.passwordFile == ""):
		return nil, usageError{errors.New("--user and --password-file go together")}
	case c.tokenFile != "":
		tok, err := readSecretFile(c.tokenFile, "--token-file")
		if err != nil {
			return nil, err
		}
		return client.BearerToken(tok), nil
	case c.user != "":
		pw, err := readSecretFile(c.passwordFile, "--password-file")
		if err != nil {
			return nil, err
		}
		return client.BasicAuth{User: c.user, Password: pw}, nil
	}
	return nil, nil
}

// readSecretFile reads a one-line secret from a file that only its owner
// can read.
func readSecretFile(path, flag string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("%s: %s has mode %04o, readable or writable by group or others; run `chmod 600 %s`", flag, path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	secret := strings.TrimRight(string(data), "\r\n")
	if secret == "" || strings.ContainsAny(secret, "\r\n") {
		return "", fmt.Errorf("%s: %s must hold the secret on one line", flag, path)
	}
	return secret, nil
}

// checkTAXIIURL refuses URLs that are not absolute https URLs.
func checkTAXIIURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("URL %q: %w", raw, err)
	}
	switch {
	case u.Scheme == "http":
		return fmt.Errorf("URL %q: plain http is refused; intelligence and credentials travel over https only", raw)
	case u.Scheme != "https" || u.Hostname() == "":
		return fmt.Errorf("URL %q: want an https:// URL, such as https://taxii.example.gov/taxii2/", raw)
	case u.User != nil:
		return fmt.Errorf("URL %q: user information does not belong in the URL; use --user and --password-file", raw)
	case u.RawQuery != "" || u.Fragment != "":
		return fmt.Errorf("URL %q: no query or fragment, please", raw)
	}
	return nil
}

// pinnedPartnerAt returns the code of the pinned partner that names an
// endpoint at which rawURL lies (same scheme, host and port, and the
// endpoint's path a prefix of the URL's), or "" if none does.
func pinnedPartnerAt(n *node.Node, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	pinned, err := partner.NewStore(n.Dir, n.Config.Node.Partner).List()
	if err != nil {
		return "", err
	}
	var found []string
	for _, p := range pinned {
		for _, ep := range p.Card.Endpoints {
			if atEndpoint(ep, u) {
				found = append(found, p.Card.Partner)
				break
			}
		}
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%s is an endpoint of several pinned partners (%s); a URL must belong to one partner", rawURL, strings.Join(found, ", "))
}

func atEndpoint(endpoint string, u *url.URL) bool {
	e, err := url.Parse(endpoint)
	if err != nil || !strings.EqualFold(e.Scheme, u.Scheme) || !strings.EqualFold(e.Hostname(), u.Hostname()) || portOf(e) != portOf(u) {
		return false
	}
	prefix := strings.TrimSuffix(e.Path, "/")
	return prefix == "" || u.Path == prefix || strings.HasPrefix(u.Path, prefix+"/")
}

func portOf(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if strings.EqualFold(u.Scheme, "http") {
		return "80"
	}
	return "443"
}

// remote is a TAXII collection on a server, with the client that reaches
// it.
type remote struct {
	c       *client.Client
	url     string // as given
	root    string // the API root URL
	coll    *client.Collection
	partner string // the pinned partner serving it, "" if none
}

// who names the server for messages.
func (r *remote) who() string {
	if r.partner != "" {
		return r.partner + "'s node at " + r.url
	}
	return "the TAXII server at " + r.url
}

// openRemote makes a client for rawURL (mutual TLS with the node's
// identity for a pinned partner's endpoint, else server authentication
// and the credentials given), then finds the API root and the collection.
func (e *env) openRemote(ctx context.Context, n *node.Node, rawURL, collection string, creds taxiiCredentials) (*remote, error) {
	code, err := pinnedPartnerAt(n, rawURL)
	if err != nil {
		return nil, err
	}
	cr, err := creds.credentials()
	if err != nil {
		return nil, err
	}
	opts := client.Options{Credentials: cr}
	if code != "" {
		if creds.caFile != "" {
			return nil, usageError{fmt.Errorf("%s is %s's pinned endpoint: its certificate is checked against %s's card, not --ca-file", rawURL, code, code)}
		}
		if opts.HTTPClient, err = partnerHTTPClient(n, code); err != nil {
			return nil, err
		}
		opts.HTTPClient.Timeout = client.DefaultTimeout
	} else {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if creds.caFile != "" {
			pem, err := os.ReadFile(creds.caFile)
			if err != nil {
				return nil, fmt.Errorf("--ca-file: %w", err)
			}
			cfg.RootCAs = x509.NewCertPool()
			if !cfg.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--ca-file: %s holds no PEM certificate", creds.caFile)
			}
		}
		opts.TLSConfig = cfg
	}
	c, err := client.New(opts)
	if err != nil {
		return nil, err
	}
	r := &remote{c: c, url: rawURL, partner: code}
	if r.root, err = c.FindAPIRoot(ctx, rawURL); err != nil {
		return nil, fmt.Errorf("%s: %w", r.who(), err)
	}
	if r.coll, err = c.FindCollection(ctx, r.root, collection); err != nil {
		return nil, err
	}
	return r, nil
}

// pullState is where the last pull of one remote collection into one
// local collection ended.
type pullState struct {
	APIRoot    string `json:"api_root"`
	Collection string `json:"collection"`
	Into       string `json:"into"`
	// AddedAfter is the X-TAXII-Date-Added-Last of the last page
	// committed: the next pull asks for objects added after it.
	AddedAfter string `json:"added_after"`
	Updated    string `json:"updated"`
}

// pullStateDir holds one state file per pulled collection.
const pullStateDir = "pull-state"

func pullStatePath(dir, root, collection, into string) string {
	sum := sha256.Sum256([]byte(root + "\x00" + collection + "\x00" + into))
	return filepath.Join(dir, pullStateDir, hex.EncodeToString(sum[:12])+".json")
}

// loadPullState returns the resume position kept at path, zero if none.
func loadPullState(path string) (time.Time, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	var st pullState
	if err := json.Unmarshal(data, &st); err != nil {
		return time.Time{}, fmt.Errorf("pull state %s: %w (remove it to pull everything again; objects already stored are kept once)", path, err)
	}
	t, err := client.ParseTimestamp(st.AddedAfter)
	if err != nil {
		return time.Time{}, fmt.Errorf("pull state %s: added_after: %w (remove it to pull everything again)", path, err)
	}
	return t, nil
}

// savePullState replaces the state file atomically and durably: a crash
// leaves the old state or the new one, never a torn file.
func savePullState(path string, st pullState) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("save pull state %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// puller pulls one remote collection into one local collection.
type puller struct {
	e        *env
	n        *node.Node
	s        store
	r        *remote
	into     string // local collection id
	intoName string // as the user named it
	marks    *markings
	limit    int
	versions string
}

// pullOnce reads every page added after the saved position (or after
// since, when set), committing each page and then its position. An
// interrupt stops it between pages.
func (p *puller) pullOnce(ctx context.Context, since time.Time) (ingest.Summary, error) {
	var sum ingest.Summary
	statePath := pullStatePath(p.n.Dir, p.r.root, p.r.coll.ID, p.into)
	pos := since
	if pos.IsZero() {
		var err error
		if pos, err = loadPullState(statePath); err != nil {
			return sum, err
		}
	}
	// Committing a page that has been read is never interrupted, so that
	// what was read is stored and its position saved together.
	commitCtx := context.WithoutCancel(ctx)
	var markRefs []string
	if p.marks != nil {
		// The banner's marking definitions are stored first, so that the
		// objects labelled with them can be read.
		if _, err := ingest.Stream(commitCtx, p.s, bytes.NewReader(p.marks.defs), ingest.Options{Collection: p.into}); err != nil {
			return sum, fmt.Errorf("store the --banner marking definitions: %w", err)
		}
		markRefs = p.marks.refs
	}
	f := client.Filter{AddedAfter: pos, Limit: p.limit, Versions: []string{p.versions}}
	pages, shown := 0, 0
	interrupted := false
	for env, err := range p.r.c.ObjectPages(ctx, p.r.root, p.r.coll.ID, f) {
		if err != nil {
			if ctx.Err() != nil {
				interrupted = true
				break
			}
			p.report(sum, pages, pos)
			return sum, fmt.Errorf("%s: %w (objects committed before this point are kept; pull again to resume)", p.r.who(), err)
		}
		pages++
		page := pages
		res, err := ingest.Stream(commitCtx, p.s, pageReader(env.Objects), ingest.Options{
			Collection: p.into, Markings: markRefs,
			// One transaction per page: the page and the position after
			// it are committed together or not at all.
			BatchSize: max(len(env.Objects), 1),
			Reject: func(rej ingest.Rejection) {
				if shown < maxRejectsShown {
					fmt.Fprintf(p.e.stderr, "page %d, %s: rejected %s\n", page, rejectionPlace(rej), rejectionReason(rej))
				} else if shown == maxRejectsShown {
					fmt.Fprintf(p.e.stderr, "further rejections not shown\n")
				}
				shown++
			},
		})
		sum.Read += res.Read
		sum.Added += res.Added
		sum.Present += res.Present
		sum.Rejected += res.Rejected
		if err != nil {
			p.report(sum, pages, pos)
			return sum, fmt.Errorf("store page %d from %s: %w (earlier pages are kept; pull again to resume)", page, p.r.who(), err)
		}
		if env.DateAddedLast.After(pos) {
			pos = env.DateAddedLast
			if err := savePullState(statePath, pullState{APIRoot: p.r.root, Collection: p.r.coll.ID, Into: p.into,
				AddedAfter: stix.FormatTimestamp(pos), Updated: stix.FormatTimestamp(time.Now().UTC())}); err != nil {
				return sum, err
			}
		}
		if ctx.Err() != nil {
			interrupted = true
			break
		}
	}
	p.report(sum, pages, pos)
	if interrupted {
		fmt.Fprintf(p.e.stdout, "interrupted between pages; the next pull resumes from there\n")
		return sum, errors.New("interrupted")
	}
	return sum, nil
}

func (p *puller) report(sum ingest.Summary, pages int, pos time.Time) {
	resume := "the beginning"
	if !pos.IsZero() {
		resume = "objects added after " + stix.FormatTimestamp(pos)
	}
	fmt.Fprintf(p.e.stdout, "pulled collection %s from %s into %s: %d page(s), %s read, %s added, %s already present, %s rejected; the next pull asks for %s\n",
		printable(p.r.coll.ID), p.r.who(), p.intoName, pages, groupDigits(sum.Read), groupDigits(sum.Added), groupDigits(sum.Present), groupDigits(sum.Rejected), resume)
}

// pageReader presents a page's objects as one STIX bundle, the form ingest
// streams; an element's index in the bundle is its index in the page.
func pageReader(objs []json.RawMessage) *bytes.Reader {
	b := []byte(`{"type":"bundle","objects":[`)
	for i, o := range objs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, o...)
	}
	return bytes.NewReader(append(b, "]}"...))
}

// rejectionPlace names a rejected object by its index in the page and its
// id when known.
func rejectionPlace(rej ingest.Rejection) string {
	s := "objects[" + strconv.Itoa(rej.Index) + "]"
	if rej.ID != "" {
		s += " (" + rej.ID + ")"
	}
	return s
}

// rejectionReason is what was wrong, without the index the place already
// gives.
func rejectionReason(rej ingest.Rejection) string {
	var oe *stix.ObjectError
	if !errors.As(rej.Err, &oe) {
		return rej.Err.Error()
	}
	var b strings.Builder
	for i, pr := range oe.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		msg := pr.Msg
		if pr.Rule == "object-type" && pr.Path == "$" {
			// The decoder's byte offset is in the bundle made of the page,
			// which the operator never sees; the index says where.
			msg = "not a JSON object"
		}
		fmt.Fprintf(&b, "%s: %s [%s]", pr.Path, msg, pr.Rule)
	}
	return b.String()
}
