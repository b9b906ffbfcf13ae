// Command tearline runs and operates a Tearline node: a national or agency
// node that shares intelligence with partners under formal agreements.
//
// This is the only package that wires adapters together: it reads the node
// directory (package node), opens the store the config names (sqlite or
// postgres) and hands it to the services that need it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command run sees of the outside world; tests supply their
// own.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// stopProfile ends the CPU profile --cpuprofile started, when the
	// command run returns; nil without one.
	stopProfile func()
}

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// Main runs the tearline command line with args and returns the exit code:
// 0 on success, 1 on failure, 2 on a usage error, 3 when an import finished
// but rejected some objects.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if e.stopProfile != nil {
		e.stopProfile()
	}
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "tearline: %v\n", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isUsageError(err) {
		return 2
	}
	return 1
}

type usageError struct{ error }

func isUsageError(err error) bool {
	var u usageError
	return errors.As(err, &u)
}

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "tearline",
		Short: "Share intelligence with partners under formal agreements, without losing control of it",
		Long: `Tearline is the node a nation or agency runs to share intelligence with its
international partners under formal agreements, and to receive theirs.
It speaks STIX 2.1 and TAXII 2.1.

A node lives in a directory made by 'tearline init': its config file, its
keys and, by default, its SQLite database. Other commands find it with
--dir, or the TEARLINE_DIR environment variable, or the current directory.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	var cpuProfile string
	root.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this run to the file")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		// Stopped when Main returns, not by a cobra finaliser: those are
		// global, and commands that run others (bench) would stop it early.
		e.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(
		newVersionCmd(e),
		newInitCmd(e),
		newImportCmd(e),
		newExportCmd(e),
		newBackupCmd(e),
		newCollectionCmd(e),
		newBenchCmd(e),
		newDemoCmd(e),
		newLabelCmd(e),
		newAgreementCmd(e),
		newExplainCmd(e),
		newReleaseCmd(e),
		newUserCmd(e),
		newKeysCmd(e),
		newPartnerCmd(e),
		newServeCmd(e),
		newAuditCmd(e),
		newPullCmd(e),
		newPushCmd(e),
		newMatchCmd(e),
		newExerciseCmd(e),
		newRecallCmd(e),
	)
	return root
}

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of this tearline binary",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			fmt.Fprintf(e.stdout, "tearline %s (%s %s/%s)\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return nil
		},
	}
}
