package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
)

// userStoreOf returns the user side of the node's store.
func userStoreOf(s store) (tearline.UserStore, error) {
	us, ok := s.(tearline.UserStore)
	if !ok {
		return nil, errors.New("this store keeps no users")
	}
	return us, nil
}

// openUsers opens the node, its store and the store's user side; the
// caller closes the store.
func (e *env) openUsers(ctx context.Context, dir string) (*node.Node, store, tearline.UserStore, error) {
	n, s, err := e.openNode(ctx, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	us, err := userStoreOf(s)
	if err != nil {
		s.Close()
		return nil, nil, nil, err
	}
	return n, s, us, nil
}

var userName = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// parseClearances reads POLICY:LEVEL clearances: each grants the level and
// every level below it in the scheme.
func parseClearances(flags []string) ([]tearline.Clearance, error) {
	var out []tearline.Clearance
	for _, c := range flags {
		policyName, level, ok := strings.Cut(c, ":")
		if !ok {
			return nil, fmt.Errorf("--clearance %q: want POLICY:LEVEL, such as GBR:SECRET or NATO:NATO SECRET", c)
		}
		sch, ok := label.LookupScheme(strings.TrimSpace(policyName))
		if !ok {
			return nil, fmt.Errorf("--clearance %q: %q is not a known classification policy", c, policyName)
		}
		top, ok := sch.Rank(strings.TrimSpace(level))
		if !ok {
			return nil, fmt.Errorf("--clearance %q: %q is not a level of %s (levels: %s)", c, level, sch.Policy, strings.Join(sch.Levels(), ", "))
		}
		out = append(out, tearline.Clearance{Policy: sch.Policy, Levels: sch.Levels()[:top+1]})
	}
	return out, nil
}

func newUserCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage the node's local users and their API tokens",
		Long: `Local users are the analysts, releasers and administrators of the node's
own organisation, and foreign liaison officers seated with it. What a user
may see is decided by the release engine exactly like what a partner may
receive: with the user's clearances and nationality (a user of the node's
own nation under the node's own rules, a foreign one under the agreements
with their nation). A collection must also be granted to the user
('tearline collection grant').

API clients authenticate with a token, as "Authorization: Bearer TOKEN" or
as HTTP Basic with the user name and the token as password. A token is shown
once, stored hashed, and always expires.`,
	}
	cmd.AddCommand(newUserAddCmd(e), newUserListCmd(e), newUserDisableCmd(e, true), newUserDisableCmd(e, false),
		newUserTokenCmd(e), newUserRevokeCmd(e))
	return cmd
}

func newUserAddCmd(e *env) *cobra.Command {
	var (
		dir, nationality, organisation string
		clearances, communities, roles []string
	)
	cmd := &cobra.Command{
		Use:   "add NAME --nationality CODE --clearance POLICY:LEVEL [--role analyst|releaser|admin] [--community C] [--organisation O]",
		Short: "Add a user, or replace a user's record",
		Example: `  tearline user add j.smith --nationality GBR --clearance GBR:SECRET --clearance "NATO:NATO SECRET" --role analyst
  tearline user add c.martin --nationality FRA --clearance FRA:SECRET --role analyst --organisation "FRA liaison"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !userName.MatchString(name) {
				return usageError{fmt.Errorf("user name %q: use 1 to 64 lower-case letters, digits and . _ @ -, starting with a letter or digit", name)}
			}
			if nationality == "" {
				return usageError{fmt.Errorf("user add needs --nationality CODE, the user's nation (GBR, FRA, ...)")}
			}
			cl, err := parseClearances(clearances)
			if err != nil {
				return usageError{err}
			}
			u := tearline.User{Name: name, Nationality: strings.ToUpper(nationality), Organisation: organisation,
				Clearances: cl, Communities: communities}
			if len(roles) == 0 {
				roles = []string{string(tearline.RoleAnalyst)}
			}
			for _, r := range roles {
				role := tearline.Role(strings.ToLower(r))
				if !role.Known() {
					return usageError{fmt.Errorf("--role %q: use analyst, releaser or admin", r)}
				}
				u.Roles = append(u.Roles, role)
			}
			ctx := cmd.Context()
			n, s, us, err := e.openUsers(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			reg, err := nodeRegistry(n)
			if err != nil {
				return err
			}
			if _, ok := reg.Partner(u.Nationality); !ok {
				return usageError{fmt.Errorf("--nationality %q is not a known partner code (GBR, FRA, USA, ...)", nationality)}
			}
			for _, c := range communities {
				if _, ok := reg.Community(c); !ok {
					return usageError{fmt.Errorf("--community %q is not a known community", c)}
				}
			}
			if old, err := us.User(ctx, name); err == nil {
				u.Created, u.Disabled = old.Created, old.Disabled
			}
			if err := us.PutUser(ctx, u); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "user %s (%s) saved: %s\n", name, u.Nationality, clearanceText(u.Clearances))
			if u.Nationality != n.Config.Node.Partner {
				fmt.Fprintf(e.stdout, "note: %s is not this node's nation (%s): %s is decided under the agreements with %s, like a partner\n",
					u.Nationality, n.Config.Node.Partner, name, u.Nationality)
			}
			return e.recordUser(ctx, n, s, "user-saved", name, map[string]string{"nationality": u.Nationality, "clearances": clearanceText(u.Clearances)})
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&nationality, "nationality", "", "the user's nation (trigraph, e.g. GBR)")
	cmd.Flags().StringVar(&organisation, "organisation", "", "the user's organisation (for TLP:AMBER+STRICT)")
	cmd.Flags().StringSliceVar(&clearances, "clearance", nil, "a clearance as POLICY:LEVEL (repeatable): that level and those below it")
	cmd.Flags().StringSliceVar(&communities, "community", nil, "a community the user belongs to (repeatable)")
	cmd.Flags().StringSliceVar(&roles, "role", nil, "analyst (default), releaser or admin (repeatable)")
	return cmd
}

func clearanceText(cs []tearline.Clearance) string {
	if len(cs) == 0 {
		return "no clearance"
	}
	parts := make([]string, len(cs))
	for i, c := range cs {
		top := "-"
		if len(c.Levels) > 0 {
			top = c.Levels[len(c.Levels)-1]
		}
		parts[i] = c.Policy + " " + top
	}
	return strings.Join(parts, ", ")
}

// recordUser appends a change of who may do what to the audit log.
func (e *env) recordUser(ctx context.Context, n *node.Node, s store, what, name string, details map[string]string) error {
	d := map[string]string{"change": what}
	for k, v := range details {
		d[k] = v
	}
	return e.record(ctx, n, s, ledger.Event{Kind: ledger.KindAccessChanged, Subjects: []string{name}, Details: d})
}

func newUserListCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the users with their nationality, clearances, roles and tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, s, us, err := e.openUsers(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			users, err := us.Users(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tNATION\tCLEARANCE\tROLES\tSTATE\tTOKENS")
			for _, u := range users {
				toks, err := us.Tokens(ctx, u.Name)
				if err != nil {
					return err
				}
				roles := make([]string, len(u.Roles))
				for i, r := range u.Roles {
					roles[i] = string(r)
				}
				state := "active"
				if u.Disabled {
					state = "disabled"
				}
				var tokText []string
				for _, t := range toks {
					tokText = append(tokText, fmt.Sprintf("%s (until %s)", t.ID, t.Expires.Format(time.DateOnly)))
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Nationality, clearanceText(u.Clearances),
					strings.Join(roles, ","), state, strings.Join(tokText, ", "))
			}
			return tw.Flush()
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newUserDisableCmd(e *env, disable bool) *cobra.Command {
	var dir string
	use, short := "disable NAME", "Disable a user: every token of theirs stops working at once"
	if !disable {
		use, short = "enable NAME", "Enable a disabled user again"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, us, err := e.openUsers(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := us.User(ctx, args[0])
			if err != nil {
				return err
			}
			u.Disabled = disable
			if err := us.PutUser(ctx, u); err != nil {
				return err
			}
			state := map[bool]string{true: "disabled", false: "enabled"}[disable]
			fmt.Fprintf(e.stdout, "user %s %s\n", u.Name, state)
			return e.recordUser(ctx, n, s, "user-"+state, u.Name, nil)
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newUserTokenCmd(e *env) *cobra.Command {
	var (
		dir string
		ttl time.Duration
	)
	cmd := &cobra.Command{
		Use:   "token NAME [--ttl 720h]",
		Short: "Make an API token for a user; it is shown once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, us, err := e.openUsers(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			u, err := us.User(ctx, args[0])
			if err != nil {
				return err
			}
			if u.Disabled {
				return fmt.Errorf("user %s is disabled; enable them first with 'tearline user enable %s'", u.Name, u.Name)
			}
			rec, hash, token, err := access.NewToken(u.Name, time.Now(), ttl)
			if err != nil {
				return usageError{err}
			}
			if err := us.AddToken(ctx, rec, hash); err != nil {
				return err
			}
			fmt.Fprintf(e.stderr, "token %s for %s, valid until %s; it is shown once, keep it secret:\n", rec.ID, u.Name, rec.Expires.Format(time.RFC3339))
			fmt.Fprintln(e.stdout, token)
			return e.recordUser(ctx, n, s, "token-issued", u.Name, map[string]string{"token": rec.ID, "expires": rec.Expires.Format(time.RFC3339)})
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().DurationVar(&ttl, "ttl", 30*24*time.Hour, "how long the token is valid")
	return cmd
}

func newUserRevokeCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "revoke TOKEN-ID",
		Short: "Revoke an API token (its id, as 'tearline user list' shows it)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, us, err := e.openUsers(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			t, _, err := us.Token(ctx, args[0])
			if err != nil {
				return err
			}
			if err := us.RevokeToken(ctx, args[0]); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "token %s of %s revoked\n", t.ID, t.User)
			return e.recordUser(ctx, n, s, "token-revoked", t.User, map[string]string{"token": t.ID})
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newCollectionGrantCmd(e *env) *cobra.Command {
	var (
		dir         string
		read, write bool
	)
	cmd := &cobra.Command{
		Use:   "grant PRINCIPAL COLLECTION [--read] [--write]",
		Short: "Set what a user or partner may do with a collection (TAXII can_read, can_write)",
		Long: `Set a principal's access to a collection: a local user by name, or a
partner by code. Neither flag removes the grant. Reading shows only what the
release engine lets the principal see; writing goes through the one ingest
path. Pinned partners read every collection unless a grant for them says
otherwise.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, us, err := e.openUsers(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			c, err := s.Collection(ctx, args[1])
			if err != nil {
				return err
			}
			g := tearline.Grant{Principal: args[0], Collection: c.ID, Read: read, Write: write}
			if err := us.SetGrant(ctx, g); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%s on %s: read %v, write %v\n", g.Principal, c.Alias, g.Read, g.Write)
			return e.recordUser(ctx, n, s, "grant", g.Principal, map[string]string{"collection": c.ID,
				"read": fmt.Sprint(g.Read), "write": fmt.Sprint(g.Write)})
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().BoolVar(&read, "read", false, "may read (within what the release engine allows)")
	cmd.Flags().BoolVar(&write, "write", false, "may add objects")
	return cmd
}
