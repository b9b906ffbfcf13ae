//go:build !linux

package postgres

import (
	"errors"
	"syscall"
)

var errRootUnsupported = errors.New("running the cluster as root is supported on linux only")

func handOver(dir string, a *account) error { return errRootUnsupported }

func sysProcAttr(run *account) (*syscall.SysProcAttr, error) {
	if run != nil {
		return nil, errRootUnsupported
	}
	return nil, nil
}
