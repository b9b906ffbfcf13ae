package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/synth"
)

// run drives the command line in-process, as a user would from a shell.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

func initNode(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "gbr")
	if out, errs, code := run(t, "", "init", "--partner", "GBR", "--name", "UK National Liaison Office", "--dir", dir); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errs)
	}
	return dir
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, "", "version")
	if code != 0 || !strings.HasPrefix(out, "tearline ") {
		t.Errorf("version = %q, exit %d; want 'tearline ...', 0", out, code)
	}
}

func TestInitRefusesTwice(t *testing.T) {
	dir := initNode(t)
	key := filepath.Join(dir, "keys")
	before, _ := os.ReadDir(key)
	_, errs, code := run(t, "", "init", "--partner", "GBR", "--name", "Again", "--dir", dir)
	if code == 0 || !strings.Contains(errs, "already initialised") {
		t.Errorf("second init: exit %d, %q; want a refusal naming the existing node", code, errs)
	}
	after, _ := os.ReadDir(key)
	if len(before) != len(after) {
		t.Errorf("second init changed keys/: %d files before, %d after", len(before), len(after))
	}
}

func TestInitUsage(t *testing.T) {
	_, errs, code := run(t, "", "init", "--dir", t.TempDir())
	if code != 2 || !strings.Contains(errs, "--partner") {
		t.Errorf("init without --partner: exit %d, %q; want 2 and a hint", code, errs)
	}
}

func TestRefusesReadableKey(t *testing.T) {
	dir := initNode(t)
	keys, _ := filepath.Glob(filepath.Join(dir, "keys", "*.key"))
	if len(keys) == 0 {
		t.Fatal("no private key files")
	}
	if err := os.Chmod(keys[0], 0o644); err != nil {
		t.Fatal(err)
	}
	_, errs, code := run(t, "", "import", "--dir", dir, "-")
	if code == 0 || !strings.Contains(errs, "chmod 600") {
		t.Errorf("import with a world-readable key: exit %d, %q; want a refusal with the fix", code, errs)
	}
}

// objectsOf decodes a bundle or JSON lines into generic JSON values.
func objectsOf(t *testing.T, data []byte) []any {
	t.Helper()
	var out []any
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	for d.More() {
		var v map[string]any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if v["type"] == "bundle" {
			out = append(out, v["objects"].([]any)...)
		} else {
			out = append(out, v)
		}
	}
	return out
}

// TestRoundTrip imports the public corpus and exports it again: every
// object comes back with the same JSON value.
func TestRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/data/stix/*/*.json")
	valid, _ := filepath.Glob("../../stix/testdata/corpus/valid/*.json")
	files = append(files, valid...)
	if len(files) == 0 {
		t.Skip("no corpus")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			dir := initNode(t)
			if out, errs, code := run(t, "", "import", "--dir", dir, f); code != 0 {
				t.Fatalf("import: exit %d\n%s%s", code, out, errs)
			}
			out, errs, code := run(t, "", "export", "--dir", dir)
			if code != 0 {
				t.Fatalf("export: exit %d: %s", code, errs)
			}
			data, _ := os.ReadFile(f)
			in := objectsOf(t, data)
			got := objectsOf(t, []byte(out))
			// The store keeps one copy of an object repeated in the input.
			want := map[string]any{}
			for _, o := range in {
				m := o.(map[string]any)
				want[m["id"].(string)+"@"+str(m["modified"])] = o
			}
			if len(got) != len(want) {
				t.Fatalf("exported %d objects; want %d", len(got), len(want))
			}
			for _, o := range got {
				m := o.(map[string]any)
				k := m["id"].(string) + "@" + str(m["modified"])
				if !reflect.DeepEqual(o, want[k]) {
					t.Errorf("object %s changed in the round trip:\n got %v\nwant %v", k, o, want[k])
				}
			}
		})
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func TestImportReportsRejections(t *testing.T) {
	dir := initNode(t)
	input := `{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2024-01-01T00:00:00Z"}
{"type":"identity","spec_version":"2.1","id":"identity--311b2d2d-f010-4473-83ec-1edf84858f4c","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Liaison"}
`
	out, errs, code := run(t, input, "import", "--dir", dir, "-")
	if code != 3 {
		t.Fatalf("import with one bad object: exit %d; want 3\n%s%s", code, out, errs)
	}
	for _, want := range []string{"object 0", "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "$.created", "timestamp-precision"} {
		if !strings.Contains(errs, want) {
			t.Errorf("rejection message %q lacks %q", errs, want)
		}
	}
	if !strings.Contains(out, "2 read, 1 added, 0 already present, 1 rejected") {
		t.Errorf("summary = %q; want 2 read, 1 added, 1 rejected", out)
	}
}

func TestExportFilters(t *testing.T) {
	dir := initNode(t)
	f := "../../../shared/data/stix/oasis/threat-reports_apt1.json"
	if _, err := os.Stat(f); err != nil {
		t.Skip("no corpus")
	}
	run(t, "", "import", "--dir", dir, f)
	out, _, code := run(t, "", "export", "--dir", dir, "--type", "identity", "--format", "jsonl")
	if code != 0 {
		t.Fatalf("export exit %d", code)
	}
	objs := objectsOf(t, []byte(out))
	if len(objs) == 0 {
		t.Fatal("no identities exported")
	}
	for _, o := range objs {
		if o.(map[string]any)["type"] != "identity" {
			t.Errorf("export --type identity returned a %v", o.(map[string]any)["type"])
		}
	}
	out, _, _ = run(t, "", "export", "--dir", dir, "--added-since", "2999-01-01T00:00:00Z")
	if n := len(objectsOf(t, []byte(out))); n != 0 {
		t.Errorf("export --added-since the future returned %d objects", n)
	}
}

func TestBackup(t *testing.T) {
	dir := initNode(t)
	var data bytes.Buffer
	synth.New(3).WriteJSONLines(&data, 500)
	run(t, data.String(), "import", "--dir", dir, "-")
	dest := filepath.Join(t.TempDir(), "copy.db")
	if out, errs, code := run(t, "", "backup", "--dir", dir, dest); code != 0 || !strings.Contains(out, "500") {
		t.Fatalf("backup: exit %d %q %q", code, out, errs)
	}
	s, err := sqlite.Open(context.Background(), dest)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, _ := s.Count(context.Background(), ""); n != 500 {
		t.Errorf("backup holds %d objects; want 500", n)
	}
}

// buildBinary compiles tearline for tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tearline")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestImportSurvivesSIGKILL kills an import mid-way, runs it again, and
// checks that every object is stored exactly once.
func TestImportSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and imports 300,000 objects")
	}
	bin := buildBinary(t)
	dir := initNode(t)
	const n = 300000
	data := filepath.Join(t.TempDir(), "objects.jsonl")
	f, _ := os.Create(data)
	if err := synth.New(7).WriteJSONLines(f, n); err != nil {
		t.Fatal(err)
	}
	f.Close()

	cmd := exec.Command(bin, "import", "--dir", dir, "--batch", "2000", data)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until some batches are committed, then kill without warning.
	ctx := context.Background()
	db := filepath.Join(dir, "tearline.db")
	deadline := time.Now().Add(2 * time.Minute)
	var committed int64
	for time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		s, err := sqlite.OpenReadOnly(ctx, db)
		if err != nil {
			continue
		}
		committed, _ = s.Count(ctx, "")
		s.Close()
		if committed > 0 {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	t.Logf("killed the import with %d of %d objects committed", committed, n)
	if committed == 0 || committed >= n {
		t.Fatalf("killed with %d of %d objects committed; want a partial import", committed, n)
	}

	out, err := exec.Command(bin, "import", "--dir", dir, "--json", data).Output()
	if err != nil {
		t.Fatalf("second import: %v", err)
	}
	var sum jsonSummary
	if err := json.Unmarshal(out, &sum); err != nil {
		t.Fatalf("summary %q: %v", out, err)
	}
	if sum.Read != n || sum.Added+sum.Present != n || sum.Rejected != 0 || sum.Present < int(committed) {
		t.Errorf("second import = %+v; want %d read, added+present = %d, at least %d present", sum, n, n, committed)
	}
	s, err := sqlite.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if c, _ := s.Count(ctx, ""); c != n {
		t.Errorf("store holds %d object versions; want exactly %d", c, n)
	}
	// Every object is readable and none is there twice.
	seen := make(map[string]bool, n)
	q := tearline.ObjectQuery{Collection: "default", Version: tearline.VersionFilter{All: true}, Limit: 10000}
	for {
		p, err := s.Objects(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			k := o.ID + o.EffectiveVersion().String()
			if seen[k] {
				t.Fatalf("%s stored twice", k)
			}
			seen[k] = true
		}
		if !p.More {
			break
		}
		q.After = p.Objects[len(p.Objects)-1].DateAdded
	}
	if len(seen) != n {
		t.Errorf("read back %d objects; want %d", len(seen), n)
	}
	// The audit log survived the kill too: it verifies, and it names every
	// stored object exactly once.
	if out, errs, code := run(t, "", "audit", "verify", "--dir", dir); code != 0 {
		t.Fatalf("audit verify after the kill: exit %d %q %q", code, out, errs)
	}
	st := s.Ledger()
	size, err := st.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logged := make(map[string]bool, n)
	for i := uint64(0); i < size; i++ {
		data, err := st.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ledger.DecodeEvent(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ev.Subjects {
			if logged[id] {
				t.Fatalf("the audit log records %s twice", id)
			}
			logged[id] = true
		}
	}
	if len(logged) != n {
		t.Errorf("the audit log records %d objects; the store holds %d", len(logged), n)
	}
}

func TestDemo(t *testing.T) {
	out, errs, code := run(t, "", "demo", "--tour")
	if code != 0 {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"17 objects read, 17 stored, 0 already present, 0 rejected", "17 read, 0 stored, 17 already present"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestCollectionsAndRejectsFile(t *testing.T) {
	dir := initNode(t)
	out, errs, code := run(t, "", "collection", "create", "feeds", "--title", "Partner feeds", "--dir", dir)
	if code != 0 || !strings.Contains(out, "created collection feeds") {
		t.Fatalf("collection create: exit %d %q %q", code, out, errs)
	}
	if _, errs, code := run(t, "", "collection", "create", "feeds", "--dir", dir); code == 0 || !strings.Contains(errs, "already exists") {
		t.Errorf("duplicate collection: exit %d %q; want a refusal", code, errs)
	}
	bad := `{"type":"malware","spec_version":"2.1","id":"malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"X"}` + "\n"
	rejects := filepath.Join(t.TempDir(), "rejects.jsonl")
	_, _, code = run(t, bad, "import", "--dir", dir, "--collection", "feeds", "--rejects", rejects, "-")
	if code != 3 {
		t.Fatalf("import of an invalid object: exit %d; want 3", code)
	}
	data, err := os.ReadFile(rejects)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil || rec["rule"] != "required-property" || rec["id"] != "malware--0c7b5b88-8ff7-4a4d-aa9d-feb398cd0061" {
		t.Errorf("rejects file = %s (%v); want the malware's required-property rejection", data, err)
	}
	out, _, _ = run(t, "", "collection", "list", "--dir", dir)
	if !strings.Contains(out, "feeds") || !strings.Contains(out, "Partner feeds") || !strings.Contains(out, "default") {
		t.Errorf("collection list = %q; want default and feeds", out)
	}
	if _, errs, code := run(t, "", "import", "--dir", dir, "--collection", "nope", "-"); code == 0 || !strings.Contains(errs, "collection create") {
		t.Errorf("import into an unknown collection: exit %d %q; want a refusal with a hint", code, errs)
	}
}

func TestExportVersions(t *testing.T) {
	dir := initNode(t)
	v1 := `{"type":"note","spec_version":"2.1","id":"note--4c3e1f9a-8f6b-4e0d-9a55-2f1b7c3d9e10","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","content":"first","object_refs":["identity--311b2d2d-f010-4473-83ec-1edf84858f4c"]}`
	v2 := strings.Replace(strings.Replace(v1, `"modified":"2024-01-01T00:00:00.000Z"`, `"modified":"2024-02-01T00:00:00.000Z"`, 1), "first", "second", 1)
	if _, errs, code := run(t, v1+"\n"+v2+"\n", "import", "--dir", dir, "-"); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	for _, c := range []struct {
		versions string
		want     []string
	}{{"all", []string{"first", "second"}}, {"last", []string{"second"}}, {"first", []string{"first"}}} {
		out, _, code := run(t, "", "export", "--dir", dir, "--versions", c.versions, "--format", "jsonl")
		objs := objectsOf(t, []byte(out))
		var got []string
		for _, o := range objs {
			got = append(got, o.(map[string]any)["content"].(string))
		}
		if code != 0 || strings.Join(got, ",") != strings.Join(c.want, ",") {
			t.Errorf("export --versions %s = %v (exit %d); want %v", c.versions, got, code, c.want)
		}
	}
	if _, errs, code := run(t, "", "export", "--dir", dir, "--versions", "newest"); code != 2 || !strings.Contains(errs, "use all, last or first") {
		t.Errorf("export --versions newest: exit %d %q; want a usage error", code, errs)
	}
}

func TestLabelCheck(t *testing.T) {
	out, errs, code := run(t, "", "label", "check", "secret//rel to gbr, usa")
	if code != 0 || strings.TrimSpace(out) != "SECRET//REL TO USA, GBR" {
		t.Errorf("label check = %q %q, exit %d; want the normalised banner", out, errs, code)
	}
	_, errs, code = run(t, "", "label", "check", "SECRET//REL TO USA//NOFORN")
	if code != 1 || !strings.Contains(errs, "relto-with-noforn") || !strings.Contains(errs, "what to do:") {
		t.Errorf("label check of a conflict = %q, exit %d; want the rule and what to do, exit 1", errs, code)
	}
	if _, _, code := run(t, "", "label", "check"); code != 2 {
		t.Errorf("label check without a banner: exit %d; want 2", code)
	}
}

func TestAgreements(t *testing.T) {
	dir := initNode(t)
	example := "../../policy/examples/gbr-fra.yaml"
	out, errs, code := run(t, "", "agreement", "add", "--dir", dir, example)
	if code != 0 || !strings.Contains(out, "added gbr-fra-security@v1") {
		t.Fatalf("agreement add: exit %d %q %q", code, out, errs)
	}
	if out, _, code := run(t, "", "agreement", "add", "--dir", dir, example); code != 0 || !strings.Contains(out, "nothing changed") {
		t.Errorf("adding the same agreement again: exit %d %q; want no change", code, out)
	}
	// The same id and version with another text is refused.
	data, _ := os.ReadFile(example)
	changed := filepath.Join(t.TempDir(), "changed.yaml")
	os.WriteFile(changed, []byte(strings.Replace(string(data), "UK-France exchange", "UK-France sharing", 1)), 0o644)
	if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, changed); code == 0 || !strings.Contains(errs, "never rewritten") || !strings.Contains(errs, "version 2") {
		t.Errorf("rewriting an agreement version: exit %d %q; want a refusal pointing at version 2", code, errs)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(broken, []byte("id: x\nversion: 1\ntitle: X\nparties: [GBR, ZZZ]\nvalid_from: 2024-01-01\nceilings: {GBR: SECRET}\nthird_party_rule: true\ncolour: blue\n"), 0o644)
	if _, errs, code := run(t, "", "agreement", "validate", broken); code == 0 || !strings.Contains(errs, "colour") {
		t.Errorf("agreement validate of a bad file: exit %d %q; want the unknown key named", code, errs)
	}
	out, _, code = run(t, "", "agreement", "list", "--dir", dir)
	if code != 0 || !strings.Contains(out, "gbr-fra-security@v1") || !strings.Contains(out, "in force") {
		t.Errorf("agreement list = %q, exit %d", out, code)
	}
	out, _, _ = run(t, "", "agreement", "review", "--dir", dir, "--within", "100000d")
	if !strings.Contains(out, "gbr-fra-security@v1") || !strings.Contains(out, "review due by 2028-03-27") {
		t.Errorf("agreement review = %q; want the agreement due by its review date", out)
	}
	out, _, code = run(t, "", "agreement", "show", "--dir", dir, "gbr-fra-security@v1")
	if code != 0 || !strings.Contains(out, "equivalences:") {
		t.Errorf("agreement show = %q, exit %d; want the agreement text", out, code)
	}
}

// openNodeStore loads the node in dir and opens its store, closed when the
// test ends (after the cleanups registered later, such as a server's).
func openNodeStore(t *testing.T, dir string) (*node.Node, store) {
	t.Helper()
	n, err := node.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openStore(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return n, s
}
