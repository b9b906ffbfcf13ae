package node

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/tearline/tearline/label"
)

// ConfigFile is the name of the config file in a node directory.
const ConfigFile = "tearline.yaml"

// ConfigVersion is the version of the config file format this package
// reads and writes.
const ConfigVersion = 1

// Database drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// Defaults for settings a config file leaves out.
const (
	DefaultListen         = "127.0.0.1:8443"
	DefaultLogLevel       = "info"
	DefaultDatabasePath   = "tearline.db"
	DefaultSigningKeyPath = "keys/signing.key"
	DefaultHPKEKeyPath    = "keys/hpke.key"
)

// Environment variables that override the config file. Set to the empty
// string, a variable counts as unset.
const (
	// EnvDatabaseURL replaces the whole database section with a PostgreSQL
	// URL. It is where a database password belongs.
	EnvDatabaseURL = "TEARLINE_DATABASE_URL"
	// EnvListen replaces listen.
	EnvListen = "TEARLINE_LISTEN"
	// EnvLogLevel replaces log.level.
	EnvLogLevel = "TEARLINE_LOG_LEVEL"
)

// maxConfigFile bounds what is read from a config file.
const maxConfigFile = 1 << 20

// Config is the content of a node's config file, with defaults filled in
// and, once loaded by Load, environment overrides applied.
type Config struct {
	// Version is the config file format version; see ConfigVersion.
	Version  int            `yaml:"version"`
	Node     NodeConfig     `yaml:"node"`
	Database DatabaseConfig `yaml:"database"`
	// Listen is the host:port `tearline serve` listens on.
	Listen string     `yaml:"listen"`
	Log    LogConfig  `yaml:"log"`
	Keys   KeysConfig `yaml:"keys"`
	// Federation configures the links with partner nodes: community hubs
	// and the partners reached through them.
	Federation FederationConfig `yaml:"federation,omitempty"`
	// Exercise, when set, makes this node an exercise node: it releases
	// that exercise's material, and only to the exercise's participants.
	Exercise ExerciseConfig `yaml:"exercise,omitempty"`
	// API serves the node's own users and tools (TAXII clients with API
	// tokens), apart from the partners' mutual-TLS listener.
	API APIConfig `yaml:"api,omitempty"`
	// Schemes are classification schemes of the node's own (an
	// organisation's internal markings), beside the built-in national and
	// international ones. Loading the node registers them; an agreement
	// maps them to its parties' levels with an equivalence table.
	Schemes []SchemeConfig `yaml:"schemes,omitempty"`
	// Communities are groups of partners of the node's own (a regional
	// working group, an exercise cell), beside the built-in FVEY, ACGU,
	// TEYE and NATO. Labels name them in REL TO, agreements as parties.
	Communities []CommunityConfig `yaml:"communities,omitempty"`
	// Alerts configures where `tearline serve` delivers early-warning
	// alerts besides the console.
	Alerts AlertsConfig `yaml:"alerts,omitempty"`
	// Metrics serves the node's metrics to Prometheus.
	Metrics MetricsConfig `yaml:"metrics,omitempty"`
}

// MetricsConfig configures the metrics listener.
type MetricsConfig struct {
	// Listen is the host:port where `tearline serve` answers GET /metrics
	// in the Prometheus text format, over plain HTTP and without
	// authentication, as Prometheus scrapes: bind it to the loopback or
	// a management network. Empty turns it off.
	Listen string `yaml:"listen,omitempty"`
}

// AlertsConfig configures the delivery of early-warning alerts.
type AlertsConfig struct {
	// Webhooks each receive one local user's alerts, signed.
	Webhooks []WebhookConfig `yaml:"webhooks,omitempty"`
}

// WebhookConfig is one endpoint that receives alerts (see package
// analytics/webhook). Alerts carry partners' information, so each
// endpoint receives exactly what one local user may see, never more.
type WebhookConfig struct {
	// URL is the endpoint: https, or http to a loopback address.
	URL string `yaml:"url"`
	// Viewer is the local user whose view the alerts are computed for:
	// the endpoint learns what that user may see, and nothing else.
	Viewer string `yaml:"viewer"`
	// SecretEnv names the environment variable that holds the HMAC
	// secret: the secret itself never belongs in the file.
	SecretEnv string `yaml:"secret_env"`
}

var (
	webhookViewer = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
	envName       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
)

// validate checks the alerts section; errors name the entry at fault.
func (a *AlertsConfig) validate() error {
	seen := map[[2]string]bool{}
	for i, w := range a.Webhooks {
		field := func(name string) string { return fmt.Sprintf("alerts.webhooks[%d].%s", i, name) }
		u, err := url.Parse(w.URL)
		switch {
		case w.URL == "":
			return fieldErr(field("url"), errors.New("missing; give the endpoint, such as https://siem.example/tearline"))
		case err != nil || u.Host == "" || u.User != nil:
			return fieldErr(field("url"), fmt.Errorf("%q is not an absolute URL without credentials, such as https://siem.example/tearline", w.URL))
		case u.Scheme == "https":
		case u.Scheme == "http":
			if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
				return fieldErr(field("url"), fmt.Errorf("%q is plain http to a host that is not loopback; use https, as alerts carry partners' information", u.Redacted()))
			}
		default:
			return fieldErr(field("url"), fmt.Errorf("scheme %q: want https (or http to a loopback address)", u.Scheme))
		}
		if w.Viewer == "" {
			return fieldErr(field("viewer"), errors.New("missing; name the local user whose view the alerts are computed for"))
		}
		if !webhookViewer.MatchString(w.Viewer) {
			return fieldErr(field("viewer"), fmt.Errorf("%q is not a user name (lowercase letters, digits and . _ @ -, up to 64)", w.Viewer))
		}
		if w.SecretEnv == "" {
			return fieldErr(field("secret_env"), errors.New("missing; name the environment variable that holds the signing secret"))
		}
		if !envName.MatchString(w.SecretEnv) {
			return fieldErr(field("secret_env"), fmt.Errorf("%q is not an environment variable name; give the variable's name (such as TEARLINE_WEBHOOK_SECRET), never the secret itself", shortText(w.SecretEnv)))
		}
		key := [2]string{w.URL, w.Viewer}
		if seen[key] {
			return fieldErr(field("url"), fmt.Errorf("%s already receives %s's alerts in an earlier entry", u.Redacted(), w.Viewer))
		}
		seen[key] = true
	}
	return nil
}

// shortText bounds a value quoted in an error, in case it is a secret
// pasted into the wrong place: only its start is shown.
func shortText(s string) string {
	if len(s) > 8 {
		return s[:4] + "..."
	}
	return s
}

// CommunityConfig declares a community and its memberships over time.
type CommunityConfig struct {
	Code    string         `yaml:"code"`
	Name    string         `yaml:"name"`
	Members []MemberConfig `yaml:"members"`
}

// MemberConfig is a partner's membership of a community: from a date
// (YYYY-MM-DD or RFC 3339), until a date or open-ended.
type MemberConfig struct {
	Partner string `yaml:"partner"`
	From    string `yaml:"from"`
	Until   string `yaml:"until,omitempty"`
}

// FederationConfig routes links through community hubs.
type FederationConfig struct {
	// Hub makes this node a community hub: it relays batches sealed end
	// to end between its pinned partners and can open none of them.
	Hub bool `yaml:"hub,omitempty"`
	// Hubs are the pinned partners that are community hubs; a partner
	// whose card names a hub's endpoint is reached through it.
	Hubs []string `yaml:"hubs,omitempty"`
	// Via names, per partner, the hub it is reached through.
	Via map[string]string `yaml:"via,omitempty"`
	// PollInterval is how often each link pulls from its partner (or the
	// hub it is reached through) without being notified, and how often
	// pinned cards are read again, as a Go duration ("30s", "500ms");
	// empty means 30s. A member reached through a hub learns of new
	// batches only by pulling.
	PollInterval string `yaml:"poll_interval,omitempty"`
}

// Poll returns federation.poll_interval, or 0 if it is not set (the
// federation's default). The config is validated when loaded.
func (f FederationConfig) Poll() time.Duration {
	d, err := time.ParseDuration(f.PollInterval)
	if err != nil {
		return 0
	}
	return d
}

// ExerciseConfig names the exercise a node plays in and its participants
// (partner codes, the node's own included).
type ExerciseConfig struct {
	Name         string   `yaml:"name,omitempty"`
	Participants []string `yaml:"participants,omitempty"`
}

// APIConfig configures the listener for local users.
type APIConfig struct {
	// Listen is the host:port of the users' HTTPS listener; empty turns it
	// off. Callers authenticate with API tokens (Bearer, or HTTP Basic
	// with the token as password); partners never use it.
	Listen string `yaml:"listen,omitempty"`
}

// SchemeConfig declares a classification scheme: its policy identifier,
// the prefixes banners may write for it, and its levels, lowest first.
type SchemeConfig struct {
	Policy   string        `yaml:"policy"`
	Name     string        `yaml:"name"`
	Prefixes []string      `yaml:"prefixes,omitempty"`
	Levels   []LevelConfig `yaml:"levels"`
}

// LevelConfig is one level of a declared scheme.
type LevelConfig struct {
	Name         string   `yaml:"name"`
	Aliases      []string `yaml:"aliases,omitempty"`
	Unclassified bool     `yaml:"unclassified,omitempty"`
}

// registerSchemes adds the declared schemes to the label package's
// registry. Registering the same definition again changes nothing; a
// different one under a known policy, a built-in policy, or a clash of
// prefixes or levels is an error naming the scheme.
func (c *Config) registerSchemes() error {
	for i, sc := range c.Schemes {
		s := &label.Scheme{Policy: sc.Policy, Name: sc.Name, Prefixes: sc.Prefixes}
		for _, l := range sc.Levels {
			s.Scale = append(s.Scale, label.Level{Name: l.Name, Aliases: l.Aliases, Unclassified: l.Unclassified})
		}
		if err := label.RegisterScheme(s); err != nil {
			return fieldErr(fmt.Sprintf("schemes[%d]", i), err)
		}
	}
	return nil
}

// NodeConfig says who the node is.
type NodeConfig struct {
	// Partner is the code partners know this node by: an ISO 3166 alpha-3
	// trigraph or an organisation code, 3 to 10 uppercase letters or digits.
	Partner string `yaml:"partner"`
	// Name is a human-readable name for the node.
	Name string `yaml:"name"`
}

// DatabaseConfig says where the node's database is.
type DatabaseConfig struct {
	// Driver is DriverSQLite or DriverPostgres.
	Driver string `yaml:"driver"`
	// Path is the SQLite database file, relative to the node directory
	// unless absolute. Set only with DriverSQLite.
	Path string `yaml:"path"`
	// URL is the PostgreSQL connection URL. Set only with DriverPostgres.
	// It may hold a password when it came from EnvDatabaseURL, so it MUST
	// NOT be logged or shown; see Node.RedactedDatabaseURL.
	URL string `yaml:"url"`
}

// LogConfig says how much the node logs.
type LogConfig struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
}

// SlogLevel returns Level as a log/slog level. It is only meaningful for a
// validated config.
func (c LogConfig) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.Level)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// KeysConfig says where the node's long-term private keys are, relative to
// the node directory unless absolute. Each public key is beside its private
// key, with .pub in place of .key.
type KeysConfig struct {
	// Signing is the Ed25519 private key file.
	Signing string `yaml:"signing"`
	// HPKE is the HPKE MLKEM768-X25519 private key file.
	HPKE string `yaml:"hpke"`
}

var partnerCode = regexp.MustCompile(`^[A-Z0-9]{3,10}$`)

// validatePartner checks a partner code.
func validatePartner(code string) error {
	if !partnerCode.MatchString(code) {
		return fmt.Errorf("invalid partner code %q: want 3 to 10 uppercase letters or digits, such as an ISO 3166 alpha-3 code (GBR) or an organisation code agreed with the partners (NATO)", code)
	}
	return nil
}

// maxNameLen bounds a node name, in bytes.
const maxNameLen = 200

// validateName checks a node name: one line of printable text.
func validateName(name string) error {
	switch {
	case strings.TrimSpace(name) == "":
		return errors.New("a node name is required")
	case len(name) > maxNameLen:
		return fmt.Errorf("node name is %d bytes long; the limit is %d", len(name), maxNameLen)
	case !utf8.ValidString(name):
		return errors.New("node name is not valid UTF-8")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("node name %q contains a control character", name)
	}
	return nil
}

// validateText checks a setting that is a path or an address: one line of
// printable text.
func validateText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return fmt.Errorf("%q contains a control character", s)
	}
	return nil
}

var logLevels = []string{"debug", "info", "warn", "error"}

func validateLogLevel(level string) error {
	for _, l := range logLevels {
		if level == l {
			return nil
		}
	}
	return fmt.Errorf("unknown log level %q; want one of %s", level, strings.Join(logLevels, ", "))
}

func validateListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not a host:port address, such as %s", addr, DefaultListen)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has port %q; want a number from 1 to 65535", addr, port)
	}
	return nil
}

// validatePostgresURL checks a PostgreSQL URL. A URL read from the config
// file (inFile) must hold no password: secrets belong in the environment.
func validatePostgresURL(raw string, inFile bool) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("want a postgres:// or postgresql:// URL")
	}
	if inFile {
		_, hasPassword := u.User.Password()
		if hasPassword || u.Query().Has("password") {
			return fmt.Errorf("the URL holds a password; secrets never belong in the config file: remove it and set %s instead", EnvDatabaseURL)
		}
	}
	return nil
}

// fieldError is a problem with one setting of a config file, named by its
// dotted path (node.partner).
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

func fieldErr(field string, err error) error { return &fieldError{field, err} }

// applyDefaults fills in settings the file left out.
func (c *Config) applyDefaults() {
	if c.Database.Driver == "" {
		c.Database.Driver = DriverSQLite
	}
	if c.Database.Driver == DriverSQLite && c.Database.Path == "" {
		c.Database.Path = DefaultDatabasePath
	}
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Log.Level == "" {
		c.Log.Level = DefaultLogLevel
	}
	if c.Keys.Signing == "" {
		c.Keys.Signing = DefaultSigningKeyPath
	}
	if c.Keys.HPKE == "" {
		c.Keys.HPKE = DefaultHPKEKeyPath
	}
}

// validate checks a config as read from its file, defaults applied.
func (c *Config) validate() error {
	if c.Version != ConfigVersion {
		if c.Version == 0 {
			return fieldErr("version", fmt.Errorf("missing; want %d", ConfigVersion))
		}
		return fieldErr("version", fmt.Errorf("unknown config version %d; this tearline reads version %d", c.Version, ConfigVersion))
	}
	if c.Node.Partner == "" {
		return fieldErr("node.partner", errors.New("missing; set the node's partner code, such as GBR"))
	}
	if err := validatePartner(c.Node.Partner); err != nil {
		return fieldErr("node.partner", err)
	}
	if err := validateName(c.Node.Name); err != nil {
		return fieldErr("node.name", err)
	}
	for _, f := range []struct{ field, value string }{
		{"database.path", c.Database.Path},
		{"database.url", c.Database.URL},
		{"listen", c.Listen},
		{"keys.signing", c.Keys.Signing},
		{"keys.hpke", c.Keys.HPKE},
	} {
		if err := validateText(f.value); err != nil {
			return fieldErr(f.field, err)
		}
	}
	switch c.Database.Driver {
	case DriverSQLite:
		if c.Database.URL != "" {
			return fieldErr("database.url", fmt.Errorf("set, but database.driver is %s; set driver: %s to use it", DriverSQLite, DriverPostgres))
		}
	case DriverPostgres:
		if c.Database.Path != "" {
			return fieldErr("database.path", fmt.Errorf("set, but database.driver is %s; path is for %s only", DriverPostgres, DriverSQLite))
		}
		if c.Database.URL == "" {
			return fieldErr("database.url", fmt.Errorf("missing; driver %s needs a URL (or set %s)", DriverPostgres, EnvDatabaseURL))
		}
		if err := validatePostgresURL(c.Database.URL, true); err != nil {
			return fieldErr("database.url", err)
		}
	default:
		return fieldErr("database.driver", fmt.Errorf("unknown driver %q; want %s or %s", c.Database.Driver, DriverSQLite, DriverPostgres))
	}
	if err := validateListen(c.Listen); err != nil {
		return fieldErr("listen", err)
	}
	for i, h := range c.Federation.Hubs {
		if err := validatePartner(h); err != nil {
			return fieldErr(fmt.Sprintf("federation.hubs[%d]", i), err)
		}
	}
	for p, h := range c.Federation.Via {
		if err := validatePartner(p); err != nil {
			return fieldErr("federation.via", err)
		}
		if !slices.Contains(c.Federation.Hubs, h) {
			return fieldErr("federation.via."+p, fmt.Errorf("%q is not listed in federation.hubs", h))
		}
	}
	if p := c.Federation.PollInterval; p != "" {
		d, err := time.ParseDuration(p)
		switch {
		case err != nil:
			return fieldErr("federation.poll_interval", fmt.Errorf("%q is not a duration such as 30s or 500ms", p))
		case d < 100*time.Millisecond || d > time.Hour:
			return fieldErr("federation.poll_interval", fmt.Errorf("%s is out of range; give between 100ms and 1h", d))
		}
	}
	if c.Exercise.Name != "" || len(c.Exercise.Participants) > 0 {
		if c.Exercise.Name == "" {
			return fieldErr("exercise.name", errors.New("missing; name the exercise the participants play in"))
		}
		own := false
		for _, p := range c.Exercise.Participants {
			if err := validatePartner(p); err != nil {
				return fieldErr("exercise.participants", err)
			}
			own = own || p == c.Node.Partner
		}
		if !own {
			return fieldErr("exercise.participants", fmt.Errorf("list this node's own code %s among the participants", c.Node.Partner))
		}
	}
	if c.API.Listen != "" {
		if err := validateListen(c.API.Listen); err != nil {
			return fieldErr("api.listen", err)
		}
		if c.API.Listen == c.Listen {
			return fieldErr("api.listen", fmt.Errorf("%q is also the partners' listen address; give the users' listener its own port", c.API.Listen))
		}
	}
	if c.Metrics.Listen != "" {
		if err := validateListen(c.Metrics.Listen); err != nil {
			return fieldErr("metrics.listen", err)
		}
		if c.Metrics.Listen == c.Listen || c.Metrics.Listen == c.API.Listen {
			return fieldErr("metrics.listen", fmt.Errorf("%q is also the address of another listener; give the metrics their own port", c.Metrics.Listen))
		}
	}
	if err := validateLogLevel(c.Log.Level); err != nil {
		return fieldErr("log.level", err)
	}
	if err := c.Alerts.validate(); err != nil {
		return err
	}
	if c.Keys.Signing == c.Keys.HPKE {
		return fieldErr("keys.hpke", fmt.Errorf("is the same file as keys.signing (%s); each key needs its own file", c.Keys.Signing))
	}
	for _, k := range []struct{ field, path string }{{"keys.signing", c.Keys.Signing}, {"keys.hpke", c.Keys.HPKE}} {
		if strings.HasSuffix(k.path, ".pub") {
			return fieldErr(k.field, fmt.Errorf("%q must not end in .pub, the extension of public key files", k.path))
		}
	}
	return nil
}

// parseConfig decodes and validates the contents of a config file.
// Errors give the line and the dotted name of the setting at fault where
// they can.
func parseConfig(data []byte) (Config, error) {
	var c Config
	if len(data) > maxConfigFile {
		return c, fmt.Errorf("larger than %d bytes", maxConfigFile)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return c, yamlError(err)
	}
	var body ast.Node
	for _, d := range file.Docs {
		if d.Body == nil {
			continue
		}
		if body != nil {
			return c, fmt.Errorf("%sa second YAML document; a config file holds one", linePrefix(d.Body))
		}
		body = d.Body
	}
	if body == nil {
		return c, errors.New("empty; run `tearline init` to write a config file")
	}
	if err := yaml.NodeToValue(body, &c, yaml.DisallowUnknownField()); err != nil {
		return Config{}, yamlError(err)
	}
	c.applyDefaults()
	if err := c.validate(); err != nil {
		var fe *fieldError
		if errors.As(err, &fe) {
			if line := settingLine(file, fe.field); line > 0 {
				return Config{}, fmt.Errorf("line %d: %w", line, err)
			}
		}
		return Config{}, err
	}
	return c, nil
}

// yamlError rewrites an error of the YAML library as "line N: message",
// without the library's multi-line source excerpt.
func yamlError(err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		msg := ye.GetMessage()
		var unknown *yaml.UnknownFieldError
		if errors.As(err, &unknown) {
			msg = strings.Replace(msg, "unknown field", "unknown setting", 1) + "; check its spelling and indentation"
		}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Errorf("line %d: %s", tk.Position.Line, msg)
		}
		return errors.New(msg)
	}
	return err
}

// settingLine returns the line of the setting at the dotted path field, or
// 0 if the file does not have it.
func settingLine(file *ast.File, field string) int {
	p, err := yaml.PathString("$." + field)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(file)
	if err != nil || n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

// linePrefix returns "line N: " for a node, or "" if it has no position.
func linePrefix(n ast.Node) string {
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return fmt.Sprintf("line %d: ", tk.Position.Line)
	}
	return ""
}

// applyEnv applies the environment overrides that lookup reports, and
// returns the names of the variables it applied.
func (c *Config) applyEnv(lookup func(string) (string, bool)) ([]string, error) {
	var applied []string
	get := func(name string) (string, bool) {
		v, ok := lookup(name)
		if !ok || v == "" {
			return "", false
		}
		applied = append(applied, name)
		return v, true
	}
	if v, ok := get(EnvDatabaseURL); ok {
		if err := validatePostgresURL(v, false); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvDatabaseURL, err)
		}
		c.Database = DatabaseConfig{Driver: DriverPostgres, URL: v}
	}
	if v, ok := get(EnvListen); ok {
		if err := validateListen(v); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvListen, err)
		}
		c.Listen = v
	}
	if v, ok := get(EnvLogLevel); ok {
		v = strings.ToLower(v)
		if err := validateLogLevel(v); err != nil {
			return nil, fmt.Errorf("%s: %w", EnvLogLevel, err)
		}
		c.Log.Level = v
	}
	return applied, nil
}

// configTemplate is the config file that Init writes. Every value is
// quoted: a partner code such as YES or NULL would otherwise read as a
// boolean or null in YAML.
var configTemplate = template.Must(template.New(ConfigFile).Funcs(template.FuncMap{"q": strconv.Quote}).Parse(
	`# Tearline node configuration.
#
# Written by ` + "`tearline init`" + ` on {{.Created}}.
# Restart ` + "`tearline serve`" + ` after editing it. Paths are relative to the
# directory that holds this file (the node directory) unless they are absolute.
#
# Secrets never belong in this file: no passwords, tokens or private keys.
# Give them to the node through its environment instead (see database).
# A setting that an environment variable can override says so; the variable
# wins. An unknown setting is an error, so a misspelt name is caught rather
# than ignored.

# The version of this file's format. Tearline refuses a version it does not
# know rather than guess at its meaning.
version: {{.Version}}

node:
  # The code this node is known by to its partners: an ISO 3166 alpha-3
  # country code (GBR, FRA, USA) or an organisation code agreed with the
  # partners (NATO, EUROPOL), 3 to 10 uppercase letters or digits. Partners
  # pin it together with this node's public keys: changing it means enrolling
  # again with each of them.
  partner: {{q .Node.Partner}}
  # A name for people: shown in the web console, in logs and to partners.
  name: {{q .Node.Name}}

database:
  # Where the node keeps objects, labels, agreements and its audit ledger:
  #   sqlite    one file on this machine, nothing else to run (the default);
  #   postgres  a PostgreSQL server, for a large node or for several
  #             ` + "`tearline serve`" + ` replicas sharing one database.
  driver: {{q .Database.Driver}}
  # The SQLite database file (driver sqlite only). It is created on first use.
  path: {{q .Database.Path}}
  # For PostgreSQL, set driver: postgres, remove path and give the server's
  # URL without a password, for example:
  #   url: "postgres://tearline@db.example.org:5432/tearline?sslmode=verify-full"
  # The password belongs in the environment, never in this file (a url with a
  # password is refused): set the whole URL, password included, in
  # TEARLINE_DATABASE_URL, which then replaces this database section.

# The address and port ` + "`tearline serve`" + ` listens on (HTTPS: TAXII, partner
# sync and the web console). The default takes connections from this machine
# only; give a public address, or 0.0.0.0:8443, for partners to reach it.
# TEARLINE_LISTEN overrides it.
listen: {{q .Listen}}

# To serve metrics to Prometheus at http://127.0.0.1:9464/metrics (plain
# HTTP, without authentication, as Prometheus scrapes: keep it on this
# machine or a management network), remove the # of the next two lines.
# metrics:
#   listen: "127.0.0.1:9464"

log:
  # How much the node logs: debug, info, warn or error.
  # TEARLINE_LOG_LEVEL overrides it.
  level: {{q .Log.Level}}

keys:
  # The node's long-term private keys, made by ` + "`tearline init`" + `. Each must be
  # readable by the node's user alone (chmod 600) in a directory only that
  # user can open (chmod 700): Tearline refuses to load them otherwise. The
  # public half of each is beside it, with .pub in place of .key: those are
  # the files to give partners. Back the private keys up somewhere safe;
  # partners cannot verify or send to this node without them.
  #
  # Ed25519: signs the batches and audit checkpoints this node sends.
  signing: {{q .Keys.Signing}}
  # HPKE with the post-quantum hybrid KEM MLKEM768-X25519: partners seal the
  # batches they send this node to it.
  hpke: {{q .Keys.HPKE}}
`))

// renderConfig returns the config file Init writes for c.
func renderConfig(c Config, created time.Time) ([]byte, error) {
	var buf bytes.Buffer
	err := configTemplate.Execute(&buf, struct {
		Config
		Created string
	}{c, created.UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, fmt.Errorf("render config: %w", err)
	}
	return buf.Bytes(), nil
}
