package node

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/label"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/init")

// testTime is the creation time of the test nodes.
var testTime = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// testOptions returns InitOptions with a fixed seed and clock, so that a
// node made twice is the same node.
func testOptions(seed byte) InitOptions {
	return InitOptions{
		Partner: "GBR",
		Name:    "Test node",
		Rand:    rand.NewChaCha8([32]byte{seed}),
		Now:     func() time.Time { return testTime },
	}
}

// initNode makes a node in a fresh directory and returns its directory.
func initNode(t *testing.T, seed byte) (string, *Node) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "node")
	n, err := Init(dir, testOptions(seed))
	if err != nil {
		t.Fatalf("Init(%s) = %v", dir, err)
	}
	return dir, n
}

// nodeFiles are the files Init writes, relative to the node directory.
var nodeFiles = []string{
	"tearline.yaml",
	"keys/signing.key",
	"keys/signing.pub",
	"keys/hpke.key",
	"keys/hpke.pub",
}

// snapshot returns the content of every file under dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		files[path] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// replaceFile writes data to the node file rel, keeping its mode.
func replaceFile(t *testing.T, dir, rel string, data []byte) {
	t.Helper()
	path := filepath.Join(dir, rel)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, fi.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

func skipOnWindows(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("permission bits are not meaningful on Windows")
	}
}

func TestInitFileModes(t *testing.T) {
	skipOnWindows(t)
	dir, _ := initNode(t, 1)
	want := map[string]fs.FileMode{
		".":                0o700 | fs.ModeDir,
		"keys":             0o700 | fs.ModeDir,
		"tearline.yaml":    0o644,
		"keys/signing.key": 0o600,
		"keys/signing.pub": 0o644,
		"keys/hpke.key":    0o600,
		"keys/hpke.pub":    0o644,
	}
	for rel, mode := range want {
		fi, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != mode {
			t.Errorf("mode of %s = %v; want %v", rel, got, mode)
		}
	}
	// Nothing else, such as a temporary file, is left behind.
	entries, err := os.ReadDir(filepath.Join(dir, "keys"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if wantNames := []string{"hpke.key", "hpke.pub", "signing.key", "signing.pub"}; !slices.Equal(names, wantNames) {
		t.Errorf("keys/ holds %v; want %v", names, wantNames)
	}
}

func TestInitRefusesInitialisedDirectory(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
		want    string
	}{
		{
			name:    "complete node",
			prepare: func(t *testing.T, dir string) {},
			want:    "is already initialised (tearline.yaml exists); refusing to overwrite its keys; use another --dir or remove it deliberately",
		},
		{
			name: "keys without config",
			prepare: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, ConfigFile)); err != nil {
					t.Fatal(err)
				}
			},
			want: "already holds key files (keys/hpke.key exists); refusing to overwrite them",
		},
		{
			name: "stray file in keys",
			prepare: func(t *testing.T, dir string) {
				for _, f := range nodeFiles {
					if err := os.Remove(filepath.Join(dir, f)); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(filepath.Join(dir, "keys", ".signing.key.tmp-1"), []byte("half a key"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			want: "already holds key files (keys/.signing.key.tmp-1 exists)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := initNode(t, 1)
			tt.prepare(t, dir)
			before := snapshot(t, dir)
			opts := testOptions(2)
			opts.Partner = "FRA"
			_, err := Init(dir, opts)
			if !errors.Is(err, ErrInitialised) {
				t.Fatalf("Init(initialised dir) = %v; want an error wrapping ErrInitialised", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("Init(initialised dir) = %q; want it to name %s and say %q", err, dir, tt.want)
			}
			if after := snapshot(t, dir); !reflect.DeepEqual(after, before) {
				t.Errorf("Init(initialised dir) changed the files:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func TestWriteNewNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.key")
	if err := writeNew(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := writeNew(path, []byte("second"), 0o600)
	if !errors.Is(err, ErrInitialised) {
		t.Errorf("writeNew(existing) = %v; want an error wrapping ErrInitialised", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "first" {
		t.Errorf("after writeNew(existing), file holds %q; want %q", got, "first")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("after writeNew(existing), %s holds %d entries; want 1 (no temporary file left)", dir, len(entries))
	}
}

func TestInitValidatesOptions(t *testing.T) {
	tests := []struct {
		partner, name string
		want          string // "" for success
	}{
		{"GBR", "UK node", ""},
		{"NATO", "NATO node", ""},
		{"EUROPOL", "Europol", ""},
		{"ABC1234567", "ten characters", ""},
		{"YES", `Quotes " and: colons # and hashes`, ""},
		{"", "x", "invalid partner code"},
		{"GB", "x", "invalid partner code"},
		{"gbr", "x", "invalid partner code"},
		{"GBR!", "x", "invalid partner code"},
		{"G BR", "x", "invalid partner code"},
		{"ABCDEFGHIJK", "x", "invalid partner code"},
		{"GBR", "", "a node name is required"},
		{"GBR", "   ", "a node name is required"},
		{"GBR", "two\nlines", "control character"},
		{"GBR", "bad \xff utf-8", "not valid UTF-8"},
		{"GBR", strings.Repeat("x", maxNameLen+1), "the limit is"},
	}
	for _, tt := range tests {
		t.Run(tt.partner+"/"+tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "node")
			n, err := Init(dir, InitOptions{Partner: tt.partner, Name: tt.name})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Init(%q, %q) = %v; want success", tt.partner, tt.name, err)
				}
				if n.Config.Node.Partner != tt.partner || n.Config.Node.Name != tt.name {
					t.Errorf("Init(%q, %q) node = %+v; want the partner and name given", tt.partner, tt.name, n.Config.Node)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Init(%q, %q) = %v; want an error saying %q", tt.partner, tt.name, err, tt.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Init(%q, %q) failed but created %s (stat: %v)", tt.partner, tt.name, dir, err)
			}
		})
	}
}

func TestLoadRoundTripsKeys(t *testing.T) {
	dir, made := initNode(t, 1)
	n, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(%s) = %v", dir, err)
	}
	if !n.SigningKey.Equal(made.SigningKey) || !n.SigningPublicKey.Equal(made.SigningPublicKey) {
		t.Error("Load: signing key differs from the one Init made")
	}
	if n.SigningKeyID != KeyID(n.SigningPublicKey) || n.HPKEKeyID != KeyID(n.HPKEPublicKey.Bytes()) {
		t.Errorf("Load: key ids %s, %s do not match the keys", n.SigningKeyID, n.HPKEKeyID)
	}
	if n.SigningKeyID != made.SigningKeyID || n.HPKEKeyID != made.HPKEKeyID {
		t.Errorf("Load: key ids %s, %s; Init made %s, %s", n.SigningKeyID, n.HPKEKeyID, made.SigningKeyID, made.HPKEKeyID)
	}

	msg := []byte("batch root")
	sig := ed25519.Sign(n.SigningKey, msg)
	if !ed25519.Verify(made.SigningPublicKey, msg, sig) {
		t.Error("a signature by the loaded key does not verify with the public key Init made")
	}

	// A partner seals to the public key file; the loaded private key opens it.
	pub, err := readKeyFile(filepath.Join(dir, "keys/hpke.pub"), algHPKE, false)
	if err != nil {
		t.Fatal(err)
	}
	kdf, aead, info := hpke.HKDFSHA256(), hpke.AES256GCM(), []byte("tearline test")
	ct, err := hpke.Seal(pub.hpkePub, kdf, aead, info, msg)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := hpke.Open(n.HPKEKey, kdf, aead, info, ct)
	if err != nil || !bytes.Equal(pt, msg) {
		t.Errorf("hpke.Open(loaded key, Seal(public key file)) = %q, %v; want %q", pt, err, msg)
	}
	other, _ := initNode(t, 2)
	o, err := Load(other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hpke.Open(o.HPKEKey, kdf, aead, info, ct); err == nil {
		t.Error("another node's HPKE key opened a message sealed to this node")
	}

	want := Config{
		Version:  ConfigVersion,
		Node:     NodeConfig{Partner: "GBR", Name: "Test node"},
		Database: DatabaseConfig{Driver: DriverSQLite, Path: DefaultDatabasePath},
		Listen:   DefaultListen,
		Log:      LogConfig{Level: DefaultLogLevel},
		Keys:     KeysConfig{Signing: DefaultSigningKeyPath, HPKE: DefaultHPKEKeyPath},
	}
	if !reflect.DeepEqual(n.Config, want) {
		t.Errorf("Load config = %+v; want %+v", n.Config, want)
	}
	if got, want := n.DatabasePath(), filepath.Join(dir, "tearline.db"); got != want {
		t.Errorf("DatabasePath() = %q; want %q", got, want)
	}
	if got := n.DatabaseURL(); got != "" {
		t.Errorf("DatabaseURL() = %q; want \"\" for sqlite", got)
	}
}

// TestInitGolden pins the files Init writes for a fixed seed and clock, so
// that a change to the key or config format shows up as a diff. Run with
// -update to rewrite them.
func TestInitGolden(t *testing.T) {
	dir, _ := initNode(t, 1)
	again, _ := initNode(t, 1)
	for _, rel := range nodeFiles {
		got, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		if same, _ := os.ReadFile(filepath.Join(again, rel)); !bytes.Equal(same, got) {
			t.Errorf("Init with the same seed and clock wrote two different %s", rel)
		}
		golden := filepath.Join("testdata", "init", filepath.FromSlash(rel))
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Init wrote %s:\n%s\nwant (%s):\n%s", rel, got, golden, want)
		}
	}
}

func TestLoadRefusesInsecurePermissions(t *testing.T) {
	skipOnWindows(t)
	tests := []struct {
		rel  string
		mode fs.FileMode
		want string
	}{
		{"keys/signing.key", 0o644, "mode 0644"},
		{"keys/hpke.key", 0o640, "mode 0640"},
		{"keys/signing.key", 0o604, "mode 0604"},
		{"keys", 0o755, "mode 0755"},
		{"keys", 0o710, "mode 0710"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%04o", tt.rel, tt.mode), func(t *testing.T) {
			dir, _ := initNode(t, 1)
			path := filepath.Join(dir, tt.rel)
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			_, err := Load(dir)
			if !errors.Is(err, ErrInsecurePermissions) {
				t.Fatalf("Load with %s mode %04o = %v; want an error wrapping ErrInsecurePermissions", tt.rel, tt.mode, err)
			}
			chmod := "chmod 600 " + path
			if tt.rel == "keys" {
				chmod = "chmod 700 " + path
			}
			for _, want := range []string{path, tt.want, chmod} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load with %s mode %04o = %q; want it to say %q", tt.rel, tt.mode, err, want)
				}
			}
		})
	}
}

// minimalConfig is the least a config file must say.
const minimalConfig = `version: 1
node:
  partner: GBR
  name: Test node
`

func TestLoadRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{"unknown top-level key", minimalConfig + "colour: blue\n", []string{"line 5:", `unknown setting "colour"`}},
		{"unknown nested key", "version: 1\nnode:\n  partner: GBR\n  partnr: FRA\n  name: x\n", []string{"line 4:", `unknown setting "partnr"`}},
		{"misindented key", minimalConfig + "  level: debug\n", []string{"line 5:", `unknown setting "level"`}},
		{"duplicate key", minimalConfig + "node:\n  partner: FRA\n", []string{"line 5:", `"node" already defined`}},
		{"bad partner", strings.Replace(minimalConfig, "GBR", "gb", 1), []string{"line 3:", "node.partner:", `invalid partner code "gb"`}},
		{"missing partner", "version: 1\nnode:\n  name: x\n", []string{"node.partner: missing"}},
		{"missing name", "version: 1\nnode:\n  partner: GBR\n", []string{"node.name:", "a node name is required"}},
		{"missing version", "node:\n  partner: GBR\n  name: x\n", []string{"version: missing"}},
		{"future version", strings.Replace(minimalConfig, "version: 1", "version: 2", 1), []string{"line 1:", "unknown config version 2"}},
		{"version not a number", strings.Replace(minimalConfig, "version: 1", "version: one", 1), []string{"line 1:", "cannot unmarshal"}},
		{"unknown driver", minimalConfig + "database:\n  driver: mysql\n", []string{"line 6:", "database.driver:", `unknown driver "mysql"`}},
		{"url with sqlite", minimalConfig + "database:\n  url: postgres://db/tearline\n", []string{"database.url:", "driver is sqlite"}},
		{"postgres without url", minimalConfig + "database:\n  driver: postgres\n", []string{"database.url: missing", EnvDatabaseURL}},
		{"password in url", minimalConfig + "database:\n  driver: postgres\n  url: postgres://tl:hunter2@db/tearline\n", []string{"line 7:", "holds a password", EnvDatabaseURL}},
		{"password in query", minimalConfig + "database:\n  driver: postgres\n  url: postgres://db/tearline?password=hunter2\n", []string{"holds a password"}},
		{"not a postgres url", minimalConfig + "database:\n  driver: postgres\n  url: mysql://db/tearline\n", []string{"want a postgres:// or postgresql:// URL"}},
		{"bad listen", minimalConfig + "listen: 8443\n", []string{"line 5:", "listen:", "not a host:port"}},
		{"bad port", minimalConfig + "listen: 127.0.0.1:99999\n", []string{"listen:", "from 1 to 65535"}},
		{"bad log level", minimalConfig + "log:\n  level: verbose\n", []string{"line 6:", "log.level:", `unknown log level "verbose"`}},
		{"bad metrics listen", minimalConfig + "metrics:\n  listen: 9464\n", []string{"metrics.listen:", "not a host:port"}},
		{"metrics on the partners' port", minimalConfig + "listen: 127.0.0.1:8443\nmetrics:\n  listen: 127.0.0.1:8443\n", []string{"metrics.listen:", "another listener"}},
		{"metrics on the users' port", minimalConfig + "api:\n  listen: 127.0.0.1:8444\nmetrics:\n  listen: 127.0.0.1:8444\n", []string{"metrics.listen:", "another listener"}},
		{"same key file twice", minimalConfig + "keys:\n  signing: keys/a.key\n  hpke: keys/a.key\n", []string{"keys.hpke:", "same file"}},
		{"key file named .pub", minimalConfig + "keys:\n  signing: keys/signing.pub\n", []string{"keys.signing:", "must not end in .pub"}},
		{"two documents", minimalConfig + "---\n" + minimalConfig, []string{"line 6:", "a second YAML document"}},
		{"not a mapping", "- GBR\n", []string{"line 1:", "sequence was used where mapping is expected"}},
		{"tab indentation", "version: 1\nnode:\n\tpartner: GBR\n", []string{"line 3:"}},
		{"redefines a built-in scheme", minimalConfig + "schemes:\n  - policy: GBR\n    name: x\n    levels: [{name: SECRET}]\n", []string{"schemes[0]:", "built-in scheme cannot be redefined"}},
		{"scheme without levels", minimalConfig + "schemes:\n  - policy: ACME\n    name: Acme internal\n", []string{"schemes[0]:"}},
		{"bad poll interval", minimalConfig + "federation:\n  poll_interval: often\n", []string{"federation.poll_interval:", "not a duration"}},
		{"poll interval too short", minimalConfig + "federation:\n  poll_interval: 1ms\n", []string{"federation.poll_interval:", "between 100ms and 1h"}},
		{"empty", "", []string{"empty"}},
		{"only comments", "# nothing here\n", []string{"empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := initNode(t, 1)
			replaceFile(t, dir, ConfigFile, []byte(tt.config))
			_, err := Load(dir)
			if err == nil {
				t.Fatalf("Load(config %q) = nil; want an error", tt.config)
			}
			for _, want := range append([]string{filepath.Join(dir, ConfigFile)}, tt.want...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load(config %q) = %q; want it to say %q", tt.config, err, want)
				}
			}
		})
	}
}

// TestLoadRegistersSchemes: a scheme declared in the config is known to
// banners once the node is loaded.
func TestLoadRegistersSchemes(t *testing.T) {
	dir, _ := initNode(t, 1)
	replaceFile(t, dir, ConfigFile, []byte(minimalConfig+`schemes:
  - policy: NLDPOL
    name: Dutch national police internal markings
    prefixes: [NLPOL]
    levels:
      - {name: OPEN, unclassified: true}
      - {name: POLITIE VERTROUWELIJK, aliases: [PV]}
      - {name: POLITIE GEHEIM}
`))
	if _, err := Load(dir); err != nil {
		t.Fatalf("Load(config with a scheme) = %v", err)
	}
	s, ok := label.LookupScheme("NLDPOL")
	if !ok {
		t.Fatal("LookupScheme(NLDPOL) after Load: not registered")
	}
	if r, ok := s.Rank("PV"); !ok || r != 1 {
		t.Errorf("Rank(PV) = %d, %v; want 1 (the alias of POLITIE VERTROUWELIJK)", r, ok)
	}
	l, err := label.Parse("NLPOL POLITIE GEHEIM")
	if err != nil || l.Policy != "NLDPOL" || l.Classification != "POLITIE GEHEIM" {
		t.Errorf("label.Parse(NLPOL POLITIE GEHEIM) = %+v, %v; want NLDPOL POLITIE GEHEIM", l, err)
	}
	// Loading again registers the same definition again: no error.
	if _, err := Load(dir); err != nil {
		t.Errorf("second Load = %v", err)
	}
}

func TestLoadMinimalConfig(t *testing.T) {
	dir, _ := initNode(t, 1)
	replaceFile(t, dir, ConfigFile, []byte(minimalConfig+"database:\n  path: /var/lib/tearline/gbr.db\n"))
	n, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(minimal config) = %v", err)
	}
	if n.Config.Listen != DefaultListen || n.Config.Log.Level != DefaultLogLevel || n.Config.Keys.Signing != DefaultSigningKeyPath {
		t.Errorf("Load(minimal config) = %+v; want the defaults filled in", n.Config)
	}
	if got, want := n.DatabasePath(), "/var/lib/tearline/gbr.db"; got != filepath.FromSlash(want) && runtime.GOOS != "windows" {
		t.Errorf("DatabasePath() = %q; want the absolute path %q as given", got, want)
	}
}

func TestLoadNotInitialised(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	if !errors.Is(err, ErrNotInitialised) || !strings.Contains(err.Error(), "tearline init") {
		t.Errorf("Load(empty dir) = %v; want an error wrapping ErrNotInitialised that says to run tearline init", err)
	}
}

func TestLoadEnvironmentOverrides(t *testing.T) {
	dir, _ := initNode(t, 1)
	const dbURL = "postgres://tearline:s3cret@db.example.org:5432/tearline?sslmode=verify-full"
	t.Setenv(EnvDatabaseURL, dbURL)
	t.Setenv(EnvListen, "0.0.0.0:9443")
	t.Setenv(EnvLogLevel, "DEBUG")
	n, err := Load(dir)
	if err != nil {
		t.Fatalf("Load with overrides = %v", err)
	}
	if got := n.DatabaseDriver(); got != DriverPostgres {
		t.Errorf("DatabaseDriver() = %q; want %q", got, DriverPostgres)
	}
	if got := n.DatabaseURL(); got != dbURL {
		t.Errorf("DatabaseURL() = %q; want %q", got, dbURL)
	}
	if got := n.DatabasePath(); got != "" {
		t.Errorf("DatabasePath() = %q; want \"\" for postgres", got)
	}
	if got := n.RedactedDatabaseURL(); strings.Contains(got, "s3cret") || !strings.Contains(got, "db.example.org") {
		t.Errorf("RedactedDatabaseURL() = %q; want the URL without its password", got)
	}
	if n.Config.Listen != "0.0.0.0:9443" {
		t.Errorf("Config.Listen = %q; want %q", n.Config.Listen, "0.0.0.0:9443")
	}
	if n.Config.Log.Level != "debug" || n.Config.Log.SlogLevel().String() != "DEBUG" {
		t.Errorf("Config.Log.Level = %q; want debug", n.Config.Log.Level)
	}
	if want := []string{EnvDatabaseURL, EnvListen, EnvLogLevel}; !slices.Equal(n.Overrides, want) {
		t.Errorf("Overrides = %v; want %v", n.Overrides, want)
	}

	// Without the variables, the file's settings stand.
	t.Setenv(EnvDatabaseURL, "")
	t.Setenv(EnvListen, "")
	t.Setenv(EnvLogLevel, "")
	n, err = Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n.DatabaseDriver() != DriverSQLite || n.Config.Listen != DefaultListen || len(n.Overrides) != 0 {
		t.Errorf("Load with empty overrides = %+v, overrides %v; want the file's settings", n.Config, n.Overrides)
	}
}

func TestLoadRejectsBadEnvironment(t *testing.T) {
	tests := []struct{ name, value, want string }{
		{EnvDatabaseURL, "mysql://db/tearline", "want a postgres:// or postgresql:// URL"},
		{EnvDatabaseURL, "tearline.db", "want a postgres:// or postgresql:// URL"},
		{EnvListen, "localhost", "not a host:port"},
		{EnvLogLevel, "loud", `unknown log level "loud"`},
	}
	for _, tt := range tests {
		t.Run(tt.name+"="+tt.value, func(t *testing.T) {
			dir, _ := initNode(t, 1)
			t.Setenv(tt.name, tt.value)
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.name) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load with %s=%q = %v; want an error naming the variable and saying %q", tt.name, tt.value, err, tt.want)
			}
		})
	}
}

func TestLoadRejectsDamagedKeyFiles(t *testing.T) {
	otherDir, _ := initNode(t, 2)
	otherSigningPub, err := os.ReadFile(filepath.Join(otherDir, "keys/signing.pub"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		rel    string
		damage func(key []byte) []byte
		want   string
	}{
		{"empty", "keys/signing.key", func([]byte) []byte { return nil }, "does not start with a -----BEGIN line"},
		{"cut in half", "keys/hpke.key", func(k []byte) []byte { return k[:len(k)/2] }, "no complete PEM block"},
		{"cut before END", "keys/signing.key", func(k []byte) []byte { return k[:bytes.Index(k, []byte("-----END"))] }, "no complete PEM block"},
		{"cut inside END", "keys/hpke.pub", func(k []byte) []byte { return k[:len(k)-10] }, "no complete PEM block"},
		{"garbled base64", "keys/signing.key", func(k []byte) []byte {
			i := bytes.Index(k, []byte("\n\n")) + 3
			return slices.Concat(k[:i], []byte("!!!"), k[i+3:])
		}, "no complete PEM block"},
		{"short key", "keys/signing.key", func(k []byte) []byte {
			return reencode(t, k, func(b []byte) []byte { return b[:16] }, nil)
		}, "ed25519 private key is 16 bytes; want 32"},
		{"unknown algorithm", "keys/signing.key", func(k []byte) []byte {
			return bytes.Replace(k, []byte("Algorithm: ed25519"), []byte("Algorithm: ed448"), 1)
		}, `unknown algorithm "ed448"`},
		{"wrong algorithm for slot", "keys/signing.key", func([]byte) []byte {
			data, err := os.ReadFile(filepath.Join(otherDir, "keys/hpke.key"))
			if err != nil {
				t.Fatal(err)
			}
			return data
		}, "holds an hpke-mlkem768-x25519 key; want ed25519"},
		{"public key in private slot", "keys/signing.key", func([]byte) []byte { return otherSigningPub }, "holds a public key; want a private key"},
		{"key id edited", "keys/hpke.pub", func(k []byte) []byte {
			return reencode(t, k, nil, map[string]string{headerKeyID: "0000000000000000"})
		}, "Key-Id header says 0000000000000000"},
		{"unknown header", "keys/signing.key", func(k []byte) []byte {
			return reencode(t, k, nil, map[string]string{"Proc-Type": "4,ENCRYPTED"})
		}, `unknown header "Proc-Type"`},
		{"bad created", "keys/signing.key", func(k []byte) []byte {
			return reencode(t, k, nil, map[string]string{headerCreated: "yesterday"})
		}, "not an RFC 3339 UTC time"},
		{"created with fraction", "keys/signing.key", func(k []byte) []byte {
			return reencode(t, k, nil, map[string]string{headerCreated: "2026-01-02T15:04:05.5Z"})
		}, "not an RFC 3339 UTC time"},
		{"unknown block type", "keys/signing.key", func(k []byte) []byte {
			return bytes.ReplaceAll(k, []byte("TEARLINE PRIVATE KEY"), []byte("OPENSSH PRIVATE KEY"))
		}, `unknown block type "OPENSSH PRIVATE KEY"`},
		{"trailing text", "keys/signing.key", func(k []byte) []byte { return append(k, "more\n"...) }, "unexpected text after the END line"},
		{"leading text", "keys/signing.key", func(k []byte) []byte { return append([]byte("junk\n"), k...) }, "does not start with a -----BEGIN line"},
		{"public half of another key", "keys/signing.pub", func([]byte) []byte { return otherSigningPub }, "is not the public half of"},
		{"missing public key", "keys/hpke.pub", nil, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := initNode(t, 1)
			path := filepath.Join(dir, tt.rel)
			if tt.damage == nil {
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
			} else {
				key, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				replaceFile(t, dir, tt.rel, tt.damage(key))
			}
			_, err := Load(dir)
			if err == nil {
				t.Fatalf("Load with %s %s = nil; want an error", tt.name, tt.rel)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Load with %s %s = %q; want it to name %s and say %q", tt.name, tt.rel, err, path, tt.want)
			}
		})
	}
}

// reencode rewrites a key file with its key bytes changed by bytesFn and
// the given headers set, bypassing the checks of encode.
func reencode(t *testing.T, data []byte, bytesFn func([]byte) []byte, headers map[string]string) []byte {
	t.Helper()
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatal("reencode: no PEM block")
	}
	if bytesFn != nil {
		block.Bytes = bytesFn(block.Bytes)
	}
	for k, v := range headers {
		block.Headers[k] = v
	}
	return pem.EncodeToMemory(block)
}

func TestKeyFileRoundTrip(t *testing.T) {
	signing, encryption, err := generateKeys(rand.NewChaCha8([32]byte{3}), testTime)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*keyMaterial{signing, signing.public(), encryption, encryption.public()} {
		t.Run(k.algorithm+"/"+kind(k.private), func(t *testing.T) {
			data, err := k.encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseKeyFile(data)
			if err != nil {
				t.Fatalf("parseKeyFile(encode(key)) = %v", err)
			}
			if got.algorithm != k.algorithm || got.private != k.private || got.id != k.id || !got.created.Equal(k.created) ||
				!bytes.Equal(got.publicBytes(), k.publicBytes()) {
				t.Errorf("parseKeyFile(encode(key)) = %+v; want %+v", got, k)
			}
			if k.private {
				want, _ := k.encode()
				if again, _ := got.encode(); !bytes.Equal(again, want) {
					t.Error("encode(parseKeyFile(encode(key))) differs from encode(key)")
				}
			}
		})
	}
}

// TestFuzzCorpora fails if a fuzz target has lost its seed corpus: a fuzz
// test with no seeds checks nothing in an ordinary test run.
func TestFuzzCorpora(t *testing.T) {
	for _, name := range []string{"FuzzParseConfig", "FuzzParseKeyFile"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(entries) < 3 {
			t.Errorf("testdata/fuzz/%s holds %d seeds (%v); want at least 3", name, len(entries), err)
		}
	}
}

// FuzzParseConfig checks that no config file makes parseConfig panic, and
// that any config it accepts survives being written by Init's template and
// read back (so that the quoting in the template is sound).
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(minimalConfig))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseConfig(data)
		if err != nil {
			return
		}
		if err := c.validate(); err != nil {
			t.Fatalf("parseConfig accepted a config that validate rejects: %v", err)
		}
		if c.Database.Driver != DriverSQLite {
			return // the template writes sqlite settings only
		}
		out, err := renderConfig(c, testTime)
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseConfig(out)
		if err != nil {
			t.Fatalf("parseConfig(renderConfig(%+v)) = %v\n%s", c, err, out)
		}
		if !reflect.DeepEqual(again, c) {
			t.Fatalf("parseConfig(renderConfig(c)) = %+v; want %+v", again, c)
		}
	})
}

// FuzzParseKeyFile checks that no key file makes parseKeyFile panic, and
// that any key it accepts encodes to a file that parses to the same key.
func FuzzParseKeyFile(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := parseKeyFile(data)
		if err != nil {
			return
		}
		enc, err := k.encode()
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseKeyFile(enc)
		if err != nil {
			t.Fatalf("parseKeyFile(encode(k)) = %v\n%s", err, enc)
		}
		if again.algorithm != k.algorithm || again.private != k.private || again.id != k.id ||
			!again.created.Equal(k.created) || !bytes.Equal(again.publicBytes(), k.publicBytes()) {
			t.Fatalf("parseKeyFile(encode(k)) = %+v; want %+v", again, k)
		}
		if enc2, _ := again.encode(); !bytes.Equal(enc2, enc) {
			t.Fatalf("encoding is not stable:\n%s\nthen\n%s", enc, enc2)
		}
	})
}

// TestLoadPollInterval: federation.poll_interval is read as a duration,
// and left unset it is zero (the federation's default).
func TestLoadPollInterval(t *testing.T) {
	dir, _ := initNode(t, 1)
	replaceFile(t, dir, ConfigFile, []byte(minimalConfig+"federation:\n  poll_interval: 500ms\n"))
	n, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Config.Federation.Poll(); got != 500*time.Millisecond {
		t.Errorf("Poll() = %s; want 500ms", got)
	}
	replaceFile(t, dir, ConfigFile, []byte(minimalConfig))
	if n, err = Load(dir); err != nil || n.Config.Federation.Poll() != 0 {
		t.Errorf("Poll() without the setting = %v, %v; want 0", n, err)
	}
}
