package postgres

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// handOver gives dir to the account and checks that the account can reach it,
// so that a private parent directory fails here with a clear message rather
// than deep inside initdb.
func handOver(dir string, a *account) error {
	if err := os.Chown(dir, int(a.uid), int(a.gid)); err != nil {
		return err
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		ownedBy := ok && st.Uid == a.uid
		if fi.Mode().Perm()&0o001 == 0 && !ownedBy {
			return fmt.Errorf("user %s cannot enter %s (mode %v); use a directory whose parents are world-searchable", a.name, p, fi.Mode().Perm())
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// sysProcAttr runs a server command in its own process group, so that a
// terminal's Ctrl-C reaches the tests and not the server behind their back,
// as the account when there is one, and has the kernel stop the server with
// the fast-shutdown signal if the test process dies without calling Stop.
func sysProcAttr(run *account) (*syscall.SysProcAttr, error) {
	attr := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGINT}
	if run != nil {
		attr.Credential = &syscall.Credential{Uid: run.uid, Gid: run.gid}
	}
	return attr, nil
}
