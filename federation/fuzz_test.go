package federation

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseNotify: a notification body never panics the parser, and what
// it accepts is one JSON object with a head.
func FuzzParseNotify(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := ParseNotify(data)
		if err != nil {
			return
		}
		again, err := ParseNotify(mustJSON(t, n))
		if err != nil || again != n {
			t.Fatalf("ParseNotify(%q) = %+v, which does not read back: %+v, %v", data, n, again, err)
		}
	})
}

// FuzzParseReceipt: a receipt never panics the parser; what it accepts
// is within the limits and reads back the same once written.
func FuzzParseReceipt(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseReceipt(data)
		if err != nil {
			return
		}
		if r.Through < r.After || len(r.Refused) > MaxRefusals {
			t.Fatalf("ParseReceipt(%q) accepted %+v", data, r)
		}
		again, err := ParseReceipt(mustJSON(t, r))
		if err != nil || !reflect.DeepEqual(again, r) {
			t.Fatalf("ParseReceipt(%q) = %+v, which does not read back: %+v, %v", data, r, again, err)
		}
	})
}

// FuzzParseBatchQuery: a batch request's query never panics the parser;
// what it accepts is a request a sender can answer, and encodes back to
// the same request.
func FuzzParseBatchQuery(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := ParseBatchQuery(raw)
		if err != nil {
			return
		}
		if q.Limit < 1 || q.Limit > MaxBatchLimit || q.Acked > q.After {
			t.Fatalf("ParseBatchQuery(%q) accepted %+v", raw, q)
		}
		if again, err := ParseBatchQuery(q.Encode()); err != nil || again != q {
			t.Fatalf("ParseBatchQuery(%q) = %+v, which encodes to %q and reads back as %+v, %v", raw, q, q.Encode(), again, err)
		}
	})
}

// FuzzParseBatchHeader: a batch answer's range never panics the parser;
// what it accepts starts where it was asked to and stays within the head.
func FuzzParseBatchHeader(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, after, through, head, withheld string, asked uint64) {
		hd := http.Header{}
		hd.Set(HeaderAfter, after)
		hd.Set(HeaderThrough, through)
		hd.Set(HeaderHead, head)
		hd.Set(HeaderWithheld, withheld)
		h, err := ParseBatchHeader(hd, asked)
		if err != nil {
			return
		}
		if h.After != asked || h.Through < h.After || h.Through > h.Head || uint64(h.Withheld) > h.Through-h.After {
			t.Fatalf("ParseBatchHeader(%q, %q, %q, %q, %d) accepted %+v", after, through, head, withheld, asked, h)
		}
	})
}

// FuzzApplyBatch hands a node's receiving side arbitrary bytes as the
// next batch from a pinned partner: it never panics, never applies them,
// and never moves its cursor.
func FuzzApplyBatch(f *testing.F) {
	fuzzseed.Require(f)
	tn := newNet(f, "GBR", "USA")
	tn.pin()
	n := tn.nodes["USA"]
	usa := tn.newFed(n, tn.tlsOptions(n))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return // an empty range is the sender's to declare; see TestBatchesAppliedOnceInOrder
		}
		ctx := context.Background()
		before, err := n.store.InboxCursor(ctx, "GBR")
		if err != nil {
			t.Fatal(err)
		}
		h := BatchHeader{After: before.Through, Through: before.Through + 3, Head: before.Through + 3}
		if _, err := usa.apply(ctx, "GBR", h, data); err == nil {
			t.Fatalf("apply(%x) succeeded", data)
		}
		after, err := n.store.InboxCursor(ctx, "GBR")
		if err != nil || after.Through != before.Through {
			t.Fatalf("apply(%x) moved the cursor from %d to %d (%v)", data, before.Through, after.Through, err)
		}
		if count, err := n.store.Count(ctx, ""); err != nil || count != 0 {
			t.Fatalf("apply(%x) stored %d objects (%v)", data, count, err)
		}
	})
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzParseBatchEntry: a partner's answer for a receipt never panics the
// parser; what it accepts has an entry, a checkpoint and a proof of 32-byte
// hashes, and reads back the same once written.
func FuzzParseBatchEntry(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, proof, err := ParseBatchEntry(data)
		if err != nil {
			return
		}
		if len(e.Entry) == 0 || e.Checkpoint == "" || len(proof) != len(e.Proof) || len(proof) > 64 {
			t.Fatalf("ParseBatchEntry(%q) accepted %+v", data, e)
		}
		for _, h := range proof {
			if len(h) != 32 {
				t.Fatalf("ParseBatchEntry(%q) accepted a hash of %d bytes", data, len(h))
			}
		}
		again, againProof, err := ParseBatchEntry(mustJSON(t, e))
		if err != nil || !reflect.DeepEqual(again, e) || !reflect.DeepEqual(againProof, proof) {
			t.Fatalf("ParseBatchEntry(%q) = %+v, which does not read back: %+v, %v", data, e, again, err)
		}
	})
}
