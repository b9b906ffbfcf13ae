package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
)

// passphrase returns the passphrase of encrypted key files: from
// TEARLINE_KEY_PASSPHRASE, else asked on the terminal if stdin is one, else
// none (and a node with encrypted keys refuses to load). It is never
// logged or echoed.
func (e *env) passphrase() ([]byte, error) {
	if p := e.getenv(node.EnvKeyPassphrase); p != "" {
		return []byte(p), nil
	}
	f, ok := e.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, nil
	}
	fmt.Fprint(e.stderr, "Passphrase of the node's private keys: ")
	p, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(e.stderr)
	if err != nil {
		return nil, fmt.Errorf("read passphrase: %w", err)
	}
	return p, nil
}

// loadNode loads the node directory without opening its store, asking for
// the key passphrase if the keys are encrypted.
func (e *env) loadNode(dirFlag string) (*node.Node, error) {
	n, err := node.LoadWith(e.nodeDir(dirFlag), node.LoadOptions{Passphrase: e.passphrase})
	if errors.Is(err, node.ErrNotInitialised) {
		return nil, fmt.Errorf("%w\n(create a node with 'tearline init --partner CODE --name NAME --dir DIR', or point --dir at one)", err)
	}
	return n, err
}

func newKeysCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Show, rotate, revoke and encrypt the node's keys",
		Long: `Manage the node's long-term keys: the Ed25519 signing key, the HPKE
MLKEM768-X25519 key partners seal to, and the TLS certificate.

Private key files may be encrypted at rest with a passphrase ('tearline keys
encrypt'). The passphrase comes from TEARLINE_KEY_PASSPHRASE or, on a
terminal, a prompt; without it the node refuses to start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageError{fmt.Errorf("keys needs a subcommand: show, rotate, revoke or encrypt (see 'tearline keys --help')")}
		},
	}
	cmd.AddCommand(newKeysShowCmd(e), newKeysRotateCmd(e), newKeysRevokeCmd(e), newKeysEncryptCmd(e))
	return cmd
}

func newKeysShowCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "show [--dir DIR]",
		Short: "List the node's keys with their ids, validity and status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			cert, err := n.TLSCertificate()
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Node %s (%s) in %s\n\n", n.Config.Node.Partner, n.Config.Node.Name, n.Dir)
			w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "KIND\tID\tALGORITHM\tSTATUS\tCREATED\tNOT AFTER\tNOTE")
			for _, k := range n.Keys() {
				note := ""
				switch k.Status {
				case node.StatusRetired:
					note = "retired " + k.Retired.Format(time.RFC3339)
				case node.StatusRevoked:
					note = fmt.Sprintf("revoked %s: %s", k.Revoked.Format(time.RFC3339), k.Reason)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.Kind, k.ID, k.Algorithm, k.Status,
					k.Created.Format(time.RFC3339), k.NotAfter.Format(time.RFC3339), note)
			}
			w.Flush()
			fmt.Fprintf(e.stdout, "\nTLS certificate  SHA-256 %s  valid until %s\n",
				node.CertificateFingerprint(cert.Certificate[0]), cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
			return nil
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newKeysRotateCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "rotate signing|hpke [--dir DIR]",
		Short: "Replace the current signing or HPKE key with a new one",
		Long: `Replace the current signing or HPKE key with a new one. The old key is kept
in keys/archive/ and marked retired: it still verifies what it signed, and a
retired HPKE key still opens what partners sealed to it before they learned of
the new one. Send partners your new card ('tearline partner card'): after a
signing key rotation it is also signed by the previous key, so partners accept
it without comparing fingerprints again. Stop 'tearline serve' first.`,
		Example: `  tearline keys rotate signing --dir ./gbr
  tearline partner card --endpoint https://tearline.gbr.example:8443 --dir ./gbr > gbr.card`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 || (args[0] != string(node.KindSigning) && args[0] != string(node.KindHPKE)) {
				return usageError{fmt.Errorf("rotate needs one key kind, signing or hpke (see 'tearline keys rotate --help')")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			old := n.CurrentKey(node.KeyKind(args[0]))
			k, err := n.RotateKey(node.KeyKind(args[0]), node.RotateOptions{})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Rotated the %s key: %s is current, %s retired (kept in keys/%s).\n", k.Kind, k.ID, old.ID, node.ArchiveDir)
			fmt.Fprintf(e.stdout, "Send partners the new card: tearline partner card --endpoint URL\n")
			return e.recordIn(cmd.Context(), n, ledger.Event{Kind: ledger.KindKeyRotated, Subjects: []string{k.ID, old.ID},
				Details: map[string]string{"kind": string(k.Kind), "action": "rotated", "current": k.ID, "retired": old.ID}})
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}

func newKeysRevokeCmd(e *env) *cobra.Command {
	var dir, reason string
	cmd := &cobra.Command{
		Use:   "revoke KEYID [--reason TEXT] [--dir DIR]",
		Short: "Record that a retired key is revoked: it never signs or opens anything again",
		Long: `Record that a key is revoked: from then on the node neither signs nor opens
anything with it, and its partner card lists it as revoked. A current key must
be rotated first. If the previous signing key is revoked, partners must pin
your next card by its fingerprint again.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("revoke needs one key id (see 'tearline keys show')")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			k, err := n.RevokeKey(args[0], reason, time.Now())
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Revoked %s key %s (%s).\n", k.Kind, k.ID, k.Reason)
			return e.recordIn(cmd.Context(), n, ledger.Event{Kind: ledger.KindKeyRotated, Subjects: []string{k.ID},
				Details: map[string]string{"kind": string(k.Kind), "action": "revoked", "reason": k.Reason}})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the key is revoked (compromised, lost, ...)")
	addDirFlag(cmd, &dir)
	return cmd
}

func newKeysEncryptCmd(e *env) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "encrypt [--dir DIR]",
		Short: "Encrypt the node's private key files with a passphrase",
		Long: `Encrypt every private key file of the node that is not encrypted yet, with
the passphrase in TEARLINE_KEY_PASSPHRASE (or typed at a prompt). From then
on the node needs that passphrase to start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := e.loadNode(dir)
			if err != nil {
				return err
			}
			p, err := e.passphrase()
			if err != nil {
				return err
			}
			if len(p) == 0 {
				return usageError{fmt.Errorf("encrypt needs a passphrase: set %s or run it from a terminal", node.EnvKeyPassphrase)}
			}
			files, err := n.EncryptPrivateKeys(p)
			for _, f := range files {
				fmt.Fprintf(e.stdout, "encrypted %s\n", f)
			}
			return err
		},
	}
	addDirFlag(cmd, &dir)
	return cmd
}
