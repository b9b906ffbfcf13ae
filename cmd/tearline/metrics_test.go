package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/internal/metrics"
	"github.com/tearline/tearline/node"
)

// TestServeMetrics: with metrics.listen in its config, 'tearline serve'
// answers GET /metrics in the Prometheus text format: the requests its
// partners made, per area and status, the state of its link with USA
// (nothing left to send once USA holds what GBR released to it, and when
// USA last pulled), its audit log's size and its build, and nothing that
// names an object.
func TestServeMetrics(t *testing.T) {
	defer func(d time.Duration) { checkpointInterval = d }(checkpointInterval)
	checkpointInterval = 50 * time.Millisecond // release sets decided promptly
	nodes := fedNodes(t, "GBR", "USA")
	gbr, usa := nodes["GBR"], nodes["USA"]
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := free.Addr().String()
	free.Close()
	cfgPath := filepath.Join(gbr.dir, node.ConfigFile)
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, cfgPath, string(cfg)+"metrics:\n  listen: "+metricsAddr+"\n")

	usaStore := serveFed(t, usa)
	gbr.ln.Close() // serve listens on the address itself
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, logs lockedBuffer
	served := make(chan int, 1)
	go func() {
		served <- Main(ctx, []string{"serve", "--dir", gbr.dir, "--listen", gbr.addr}, strings.NewReader(""), &stdout, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-served; code != 0 {
			t.Errorf("serve: exit %d\n%s", code, logs.String())
		}
	})
	ids := []string{fedID(101), fedID(102)}
	for _, id := range ids {
		if _, errs, c := run(t, labelledIndicator(t, id, "GBR SECRET//REL TO USA, GBR, FVEY"), "import", "--dir", gbr.dir, "-"); c != 0 {
			t.Fatalf("import: %s", errs)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for held := heldIDs(t, usaStore); held[ids[0]] != 1 || held[ids[1]] != 1; held = heldIDs(t, usaStore) {
		if time.Now().After(deadline) {
			t.Fatalf("USA holds %v after 30 s; want both objects GBR released to it\n%s", held, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "serving metrics for Prometheus on http://"+metricsAddr+"/metrics") {
		t.Errorf("serve does not say where it serves metrics:\n%s", stdout.String())
	}

	var out string
	var s map[string]float64
	for {
		out = scrape(t, "http://"+metricsAddr+"/metrics")
		s = samples(t, out)
		served, ok := s[`tearline_federation_last_served_timestamp_seconds{partner="USA"}`]
		if ok && served > 0 && s[`tearline_federation_to_send{partner="USA"}`] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GBR's metrics do not show USA caught up after 30 s:\n%s", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if s[`tearline_build_info{partner="GBR",go_version="`+runtime.Version()+`"}`] != 1 {
		t.Errorf("no build info for GBR:\n%s", out)
	}
	if s["tearline_audit_log_entries"] < 2 {
		t.Errorf("tearline_audit_log_entries = %v; want the imports' entries at least\n%s", s["tearline_audit_log_entries"], out)
	}
	var federation float64
	for k, v := range s {
		if strings.HasPrefix(k, `tearline_http_requests_total{listener="partners",area="federation",`) && strings.HasSuffix(k, `code="200"}`) {
			federation += v
		}
	}
	if federation == 0 {
		t.Errorf("no federation request of USA's counted:\n%s", out)
	}
	if s[`tearline_federation_send_failing{partner="USA"}`] != 0 {
		t.Errorf("the link with USA is said to fail:\n%s", out)
	}
	for _, id := range ids {
		if strings.Contains(out, id) {
			t.Errorf("the metrics name object %s", id)
		}
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != metrics.ContentType {
		t.Fatalf("GET %s = %d %q\n%s", url, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return string(b)
}

var metricSample = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{.*\})?) (\S+)$`)

// samples reads the samples of a scrape, by their name and labels; every
// line must be a comment or a sample.
func samples(t *testing.T, out string) map[string]float64 {
	t.Helper()
	s := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# ") {
			continue
		}
		m := metricSample.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("not a sample: %q", line)
		}
		v, err := strconv.ParseFloat(strings.TrimPrefix(m[2], "+"), 64)
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		s[m[1]] = v
	}
	return s
}

// TestInstrumentKeepsStreaming: a handler behind the metrics still
// reaches the connection through http.ResponseController (the live
// alerts flush events, the federation sets deadlines on long polls), the
// client sees a flushed event while the handler still runs, and the
// request is counted with its status once it ends.
func TestInstrumentKeepsStreaming(t *testing.T) {
	dir := t.TempDir()
	if _, errs, c := run(t, "", "init", "--partner", "GBR", "--name", "GBR liaison node", "--dir", dir); c != 0 {
		t.Fatal(errs)
	}
	n, s := openNodeStore(t, dir)
	m := newNodeMetrics(n, s)
	release := make(chan struct{})
	h := m.instrument("users", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetWriteDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Errorf("SetWriteDeadline through the metrics: %v", err)
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusAccepted)
		io.WriteString(w, "event: alert\ndata: {}\n\n")
		if err := rc.Flush(); err != nil {
			t.Errorf("Flush through the metrics: %v", err)
		}
		<-release
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/console/alerts/stream")
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: alert\n" {
		t.Errorf("first line while the handler runs = %q, %v; want the flushed event", line, err)
	}
	close(release)
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	var b strings.Builder
	deadline := time.Now().Add(5 * time.Second)
	for {
		b.Reset()
		if err := m.reg.Write(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		if samples(t, b.String())[`tearline_http_requests_total{listener="users",area="console",method="GET",code="202"}`] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the streamed request is not counted with its status:\n%s", b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
