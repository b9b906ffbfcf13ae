package taxii

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/tearline/tearline/synth"
)

// BenchmarkPost posts envelopes of 1,000 synthetic objects through the
// handler into a SQLite store, as a partner's client would.
func BenchmarkPost(b *testing.B) {
	n := newNode(&testing.T{}, func(c *Config) { c.MaxContentLength = 64 << 20 })
	g := synth.New(1)
	var bodies [][]byte
	for range 20 {
		objs := make([]json.RawMessage, 0, 1000)
		for len(objs) < 1000 {
			objs = append(objs, json.RawMessage(append([]byte(nil), g.Next()...)))
		}
		body, err := json.Marshal(map[string]any{"objects": objs})
		if err != nil {
			b.Fatal(err)
		}
		bodies = append(bodies, body)
	}
	b.ResetTimer()
	posted := 0
	for i := 0; b.Loop(); i++ {
		r := httptest.NewRequest("POST", objectsPath(collA), bytes.NewReader(bodies[i%len(bodies)]))
		r.Header.Set("Accept", MediaType)
		r.Header.Set("Content-Type", MediaType)
		r.Header.Set("Authorization", "Bearer carol-token")
		w := httptest.NewRecorder()
		n.h.ServeHTTP(w, r)
		if w.Code != 202 {
			b.Fatalf("POST = %d %s", w.Code, w.Body)
		}
		posted += 1000
	}
	b.ReportMetric(float64(posted)/b.Elapsed().Seconds(), "objects/s")
}
