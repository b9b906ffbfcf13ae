package client

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkGetObjectsPage times one limit=1000 page from the node's own
// TAXII server over TLS, in a collection of 20,000 objects, asking for
// every version (as 'tearline pull' does) and for the newest only (the
// TAXII default).
func BenchmarkGetObjectsPage(b *testing.B) {
	ctx := context.Background()
	srv, _ := tearlineServer(b, 0)
	c, err := New(Options{HTTPClient: srv.Client(), Credentials: BearerToken("writer-token")})
	if err != nil {
		b.Fatal(err)
	}
	root := srv.URL + "/tearline/"
	const objects = 20000
	for start := 0; start < objects; start += 1000 {
		env := make([]json.RawMessage, 0, 1000)
		for i := start; i < start+1000; i++ {
			env = append(env, identity(i))
		}
		if st, err := c.AddObjects(ctx, root, collA, env); err != nil || st.SuccessCount != len(env) {
			b.Fatalf("seeding: %+v %v", st, err)
		}
	}
	m, err := c.Manifest(ctx, root, collA, Filter{Limit: 1000})
	if err != nil || len(m.Objects) != 1000 {
		b.Fatalf("manifest: %v", err)
	}
	// Pages start after the first thousand objects.
	after := m.Objects[len(m.Objects)-1].DateAdded
	for _, v := range []string{"all", "last"} {
		b.Run(fmt.Sprintf("versions=%s", v), func(b *testing.B) {
			for b.Loop() {
				env, err := c.GetObjects(ctx, root, collA, Filter{Limit: 1000, AddedAfter: after, Versions: []string{v}})
				if err != nil || len(env.Objects) != 1000 {
					b.Fatalf("GetObjects: %d objects, %v", len(env.Objects), err)
				}
			}
			b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}
