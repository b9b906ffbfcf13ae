package node

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLoadAlertsConfig: a webhook entry is read as written, and each
// mistake in one is refused naming the entry's field and its line.
func TestLoadAlertsConfig(t *testing.T) {
	good := minimalConfig + "alerts:\n  webhooks:\n    - url: https://siem.example/tearline\n      viewer: soc\n      secret_env: TEARLINE_SOC_SECRET\n" +
		"    - url: http://127.0.0.1:9000/hook\n      viewer: j.smith\n      secret_env: LOCAL_HOOK\n"
	dir, _ := initNode(t, 1)
	replaceFile(t, dir, ConfigFile, []byte(good))
	n, err := Load(dir)
	if err != nil {
		t.Fatalf("Load(good alerts) = %v", err)
	}
	want := []WebhookConfig{
		{URL: "https://siem.example/tearline", Viewer: "soc", SecretEnv: "TEARLINE_SOC_SECRET"},
		{URL: "http://127.0.0.1:9000/hook", Viewer: "j.smith", SecretEnv: "LOCAL_HOOK"},
	}
	if got := n.Config.Alerts.Webhooks; !reflect.DeepEqual(got, want) {
		t.Errorf("Alerts.Webhooks = %+v; want %+v", got, want)
	}

	hook := func(url, viewer, env string) string {
		s := minimalConfig + "alerts:\n  webhooks:\n    - url: " + url + "\n"
		if viewer != "" {
			s += "      viewer: " + viewer + "\n"
		}
		if env != "" {
			s += "      secret_env: " + env + "\n"
		}
		return s
	}
	tests := []struct {
		name   string
		config string
		want   []string
	}{
		{"missing url", minimalConfig + "alerts:\n  webhooks:\n    - viewer: soc\n      secret_env: X\n", []string{"alerts.webhooks[0].url: missing"}},
		{"plain http to a remote host", hook("http://siem.example/hook", "soc", "X"), []string{"line 7:", "alerts.webhooks[0].url:", "not loopback"}},
		{"other scheme", hook("ftp://siem.example/hook", "soc", "X"), []string{"alerts.webhooks[0].url:", `scheme "ftp"`}},
		{"relative url", hook("/hook", "soc", "X"), []string{"alerts.webhooks[0].url:", "not an absolute URL"}},
		{"credentials in url", hook("https://u:p@siem.example/hook", "soc", "X"), []string{"alerts.webhooks[0].url:", "without credentials"}},
		{"missing viewer", hook("https://siem.example/hook", "", "X"), []string{"alerts.webhooks[0].viewer: missing"}},
		{"bad viewer", hook("https://siem.example/hook", "Root User", "X"), []string{"line 8:", "alerts.webhooks[0].viewer:", "not a user name"}},
		{"missing secret_env", hook("https://siem.example/hook", "soc", ""), []string{"alerts.webhooks[0].secret_env: missing"}},
		{"secret instead of a name", hook("https://siem.example/hook", "soc", "s3cr3t-v@lue-0123456789"), []string{"line 9:", "alerts.webhooks[0].secret_env:", "never the secret itself", `"s3cr..."`}},
		{"duplicate entry", good + "    - url: https://siem.example/tearline\n      viewer: soc\n      secret_env: OTHER\n",
			[]string{"alerts.webhooks[2].url:", "already receives soc's alerts"}},
		{"unknown setting", hook("https://siem.example/hook", "soc", "X") + "      secret: abc\n", []string{"unknown setting \"secret\""}},
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
			if strings.Contains(err.Error(), "s3cr3t-v@lue") {
				t.Errorf("Load error %q repeats what looks like a secret", err)
			}
		})
	}
}
