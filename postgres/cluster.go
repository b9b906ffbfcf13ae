package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoBinaries reports that StartCluster found no PostgreSQL server
// binaries on this machine.
var ErrNoBinaries = errors.New("no postgresql server binaries found")

// Cluster is a throwaway PostgreSQL server for tests and benchmarks: a fresh
// data directory, a server listening on a unix socket only, trust
// authentication and one empty database. It is not for production use.
type Cluster struct {
	dir  string
	url  string
	cmd  *exec.Cmd
	done chan struct{} // closed when the server process has exited
	err  error         // the server's exit status, once done is closed

	stopOnce sync.Once
	stopErr  error
}

// clusterUser is the database superuser the cluster is initialised with,
// and clusterDB the database its URL points to.
const (
	clusterUser = "tearline"
	clusterDB   = "tearline"
	// The socket directory is private to the cluster, so the port only
	// names the socket file and needs no picking.
	clusterPort = "5432"
	// maxSocketPath is the longest unix socket path everywhere:
	// sockaddr_un.sun_path holds 108 bytes on Linux and 104 on macOS and
	// the BSDs, the final NUL included.
	maxSocketPath = 103
)

// StartCluster initialises a PostgreSQL cluster in dir/data, starts a server
// on a unix socket in dir and creates an empty database. It uses the newest
// server found under /usr/lib/postgresql/*/bin, else initdb and postgres on
// PATH, and returns an error wrapping ErrNoBinaries when there are none.
//
// PostgreSQL refuses to run as root. When the caller is root the server runs
// as the postgres user, else as nobody; dir is then handed to that user, and
// dir's parent directories MUST let it through (os.MkdirTemp plus chmod 0755
// does; t.TempDir does not).
//
// ctx bounds the start only; the server runs until Stop.
func StartCluster(ctx context.Context, dir string) (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	// A unix socket path is limited to about a hundred bytes, and the server
	// reports an overlong one obscurely.
	if socket := filepath.Join(dir, ".s.PGSQL."+clusterPort); len(socket) > maxSocketPath {
		return nil, fmt.Errorf("start postgres cluster: socket path %s is longer than %d bytes; use a shorter directory", socket, maxSocketPath)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	var run *account
	if os.Geteuid() == 0 {
		if run, err = unprivilegedAccount(); err != nil {
			return nil, fmt.Errorf("start postgres cluster as root: %w", err)
		}
		if err := handOver(dir, run); err != nil {
			return nil, fmt.Errorf("start postgres cluster as root: %w", err)
		}
	}
	data := filepath.Join(dir, "data")

	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
		"-D", data, "-U", clusterUser, "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync")
	if err := prepare(initdb, dir, run); err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	if out, err := initdb.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("start postgres cluster: initdb: %w\n%s", err, out)
	}

	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	defer logFile.Close() // the server keeps its own copy of the descriptor

	// Not CommandContext: the server must outlive the start.
	server := exec.Command(filepath.Join(bin, "postgres"),
		"-D", data,
		"-k", dir,
		"-p", clusterPort,
		"-c", "listen_addresses=",
		"-c", "fsync=on",
		// Tests open a pool per fresh database, several at a time.
		"-c", "max_connections=300")
	if err := prepare(server, dir, run); err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	server.Stdout, server.Stderr = logFile, logFile
	if err := server.Start(); err != nil {
		return nil, fmt.Errorf("start postgres cluster: %w", err)
	}
	c := &Cluster{dir: dir, cmd: server, done: make(chan struct{})}
	go func() {
		c.err = server.Wait()
		close(c.done)
	}()

	if err := c.setUp(ctx); err != nil {
		c.Stop()
		log, _ := os.ReadFile(logPath)
		return nil, fmt.Errorf("start postgres cluster: %w\nserver log:\n%s", err, tail(log, 2000))
	}
	return c, nil
}

// setUp waits for the server to accept connections and creates the database.
func (c *Cluster) setUp(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Minute)
		defer cancel()
	}
	admin := c.urlFor("postgres")
	for {
		conn, err := pgx.Connect(ctx, admin)
		if err == nil {
			_, err = conn.Exec(ctx, "CREATE DATABASE "+clusterDB)
			conn.Close(context.Background())
			if err != nil {
				return fmt.Errorf("create database: %w", err)
			}
			c.url = c.urlFor(clusterDB)
			return nil
		}
		select {
		case <-c.done:
			return fmt.Errorf("server exited: %v", c.err)
		case <-ctx.Done():
			return fmt.Errorf("wait for server: %w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (c *Cluster) urlFor(database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(clusterUser),
		Path:     "/" + database,
		RawQuery: url.Values{"host": {c.dir}, "sslmode": {"disable"}}.Encode(),
	}
	return u.String()
}

// URL returns the pgx connection URL of the cluster's database.
func (c *Cluster) URL() string { return c.url }

// Stop shuts the server down (fast shutdown: open sessions are cut off) and
// waits for it to exit. It leaves the directory in place for the caller to
// remove or inspect.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		select {
		case <-c.done:
		default:
			if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
				c.stopErr = fmt.Errorf("stop postgres cluster: %w", err)
				return
			}
			select {
			case <-c.done:
			case <-time.After(time.Minute):
				c.cmd.Process.Kill()
				<-c.done
				c.stopErr = errors.New("stop postgres cluster: server ignored fast shutdown for a minute; killed")
				return
			}
		}
		if c.err != nil {
			c.stopErr = fmt.Errorf("stop postgres cluster: server exited: %w", c.err)
		}
	})
	return c.stopErr
}

// findBinaries returns the directory holding the newest initdb and postgres.
func findBinaries() (string, error) {
	type candidate struct {
		dir     string
		version []int
	}
	var found []candidate
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, d := range dirs {
		if !executable(filepath.Join(d, "initdb")) || !executable(filepath.Join(d, "postgres")) {
			continue
		}
		var version []int
		for _, p := range strings.Split(filepath.Base(filepath.Dir(d)), ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				break
			}
			version = append(version, n)
		}
		found = append(found, candidate{d, version})
	}
	if len(found) > 0 {
		newest := slices.MaxFunc(found, func(a, b candidate) int { return slices.Compare(a.version, b.version) })
		return newest.dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if executable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// account is the unprivileged user a root caller runs the server as.
type account struct {
	name     string
	uid, gid uint32
}

func unprivilegedAccount() (*account, error) {
	var errs []error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err := errors.Join(err1, err2); err != nil {
			errs = append(errs, fmt.Errorf("user %s: %w", name, err))
			continue
		}
		return &account{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("no unprivileged user to run the server as: %w", errors.Join(errs...))
}

// prepare sets a server command's working directory, environment and, for a
// root caller, the account it runs as.
func prepare(cmd *exec.Cmd, dir string, run *account) error {
	cmd.Dir = dir
	// Nothing from the caller's environment (PGDATA, PGPORT, LC_*) should
	// change the throwaway cluster.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C", "TZ=UTC"}
	attr, err := sysProcAttr(run)
	if err != nil {
		return err
	}
	cmd.SysProcAttr = attr
	return nil
}

// tail returns the last n bytes of b, from a line start where possible.
func tail(b []byte, n int) []byte {
	if len(b) <= n {
		return b
	}
	b = b[len(b)-n:]
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return b
}
