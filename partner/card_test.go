package partner

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCardSignParseRoundTrip(t *testing.T) {
	gbr := newNode(t, "GBR", 1)
	c, data := card(t, gbr, time.Hour)
	got, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse(NodeCard) = %v", err)
	}
	if got.Partner != "GBR" || got.SigningKey.ID != gbr.SigningKeyID || got.HPKEKey.ID != gbr.HPKEKeyID {
		t.Errorf("Parse(NodeCard) = %+v; want GBR with keys %s, %s", got, gbr.SigningKeyID, gbr.HPKEKeyID)
	}
	if !got.SignedBy(gbr.SigningKeyID, gbr.SigningPublicKey) {
		t.Error("parsed card is not SignedBy its own key")
	}
	if a, b := fingerprint(t, c), fingerprint(t, got); a != b {
		t.Errorf("fingerprint before and after Parse: %s, %s", a, b)
	}
	// The fingerprint is the SHA-256 of the canonical body, whatever the
	// layout of the file.
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		t.Fatal(err)
	}
	again, err := Parse(compact.Bytes())
	if err != nil {
		t.Fatalf("Parse(compact card) = %v", err)
	}
	if a, b := fingerprint(t, c), fingerprint(t, again); a != b {
		t.Errorf("fingerprint of the compact card = %s; want %s", b, a)
	}
	fp, err := ParseFingerprint(strings.ToUpper(strings.ReplaceAll(fingerprint(t, c), ":", " ")))
	if err != nil || fp.String() != fingerprint(t, c) {
		t.Errorf("ParseFingerprint(upper, spaced) = %v, %v; want %s", fp, err, fingerprint(t, c))
	}
	if _, err := ParseFingerprint(fingerprint(t, c)[:40]); err == nil {
		t.Error("ParseFingerprint(shortened) = nil error; want a refusal")
	}
}

func TestParseRefuses(t *testing.T) {
	gbr := newNode(t, "GBR", 1)
	_, data := card(t, gbr, time.Hour)
	other := newNode(t, "FRA", 2)
	_, fra := card(t, other, time.Hour)

	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	body := func(m map[string]any) map[string]any { return m["card"].(map[string]any) }
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"tampered name", edit(func(m map[string]any) { body(m)["name"] = "Someone else" }), ErrBadSignature},
		{"tampered endpoint", edit(func(m map[string]any) { body(m)["endpoints"] = []string{"https://evil.example"} }), ErrBadSignature},
		{"swapped signature", edit(func(m map[string]any) {
			var f map[string]any
			json.Unmarshal(fra, &f)
			m["signatures"] = f["signatures"]
		}), ErrBadSignature},
		{"no signatures", edit(func(m map[string]any) { m["signatures"] = []any{} }), ErrMalformed},
		{"http endpoint", edit(func(m map[string]any) { body(m)["endpoints"] = []string{"http://gbr.example"} }), ErrMalformed},
		{"unknown member", edit(func(m map[string]any) { body(m)["extra"] = true }), ErrMalformed},
		{"unknown format", edit(func(m map[string]any) { body(m)["format"] = "tearline-partner-card/2" }), ErrMalformed},
		{"null endpoints", edit(func(m map[string]any) { body(m)["endpoints"] = nil }), ErrMalformed},
		{"key id mismatch", edit(func(m map[string]any) { body(m)["signing_key"].(map[string]any)["id"] = "0000000000000000" }), ErrMalformed},
		{"unknown signature algorithm", edit(func(m map[string]any) {
			m["signatures"].([]any)[0].(map[string]any)["algorithm"] = "rsa"
		}), ErrMalformed},
		{"duplicate member", bytes.Replace(data, []byte(`"card": {`), []byte(`"card": {"partner": "FRA",`), 1), ErrMalformed},
		{"truncated", data[:len(data)/2], ErrMalformed},
		{"empty", nil, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data)
			if !errors.Is(err, tt.want) {
				t.Errorf("Parse(%s) = %v; want %v", tt.name, err, tt.want)
			}
		})
	}
}
