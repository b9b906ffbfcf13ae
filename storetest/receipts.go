package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// ReceiptStore is an OutboxStore that keeps the receipts of batches.
type ReceiptStore interface {
	OutboxStore
	Receipt(ctx context.Context, partner string, role mailbox.Role, through uint64) (mailbox.BatchReceipt, error)
	Receipts(ctx context.Context, q mailbox.ReceiptQuery) ([]mailbox.BatchReceipt, error)
	SetReceipt(ctx context.Context, r *mailbox.BatchReceipt) error
}

// ReceiptOpener returns a new, empty store and its audit log storage.
type ReceiptOpener func(t *testing.T) (ReceiptStore, ledger.Storage)

// RunReceipts checks the receipts of batches: a batch sent (RecordSent
// with its batch) and a batch received with an envelope each create a
// pending receipt in the transaction of their audit entries, naming the
// index of the first; a batch sent again keeps its first receipt; a
// delivery without an envelope and a RecordSent without a batch create
// none; the partner's side is set once, verified or failed, and round
// trips; queries select by partner and pending.
func RunReceipts(t *testing.T, open ReceiptOpener) {
	ctx := context.Background()
	s, st := open(t)
	t.Cleanup(func() { s.Close() })
	mustCollection(t, s, "c")
	at := base.Add(time.Hour)
	ev := func(kind ledger.Kind) ledger.Event {
		return ledger.Event{Kind: kind, Time: base, Actor: "USA node", Details: map[string]string{"through": "3"}}
	}
	// Entries before, so that indices are not 0.
	if _, err := ledger.New(st).Append(ctx, ev(ledger.KindObjectViewed), ev(ledger.KindObjectViewed)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSent(ctx, "GBR", 0, at, 0, []ledger.Event{ev(ledger.KindEnvelopeSent)}); err != nil {
		t.Fatalf("RecordSent without a batch: %v", err)
	}
	if rs, err := s.Receipts(ctx, mailbox.ReceiptQuery{}); err != nil || len(rs) != 0 {
		t.Fatalf("Receipts after RecordSent without a batch = %d, %v; want none", len(rs), err)
	}
	if err := s.RecordSent(ctx, "GBR", 0, at, 3, nil); !errors.Is(err, tearline.ErrInvalid) {
		t.Errorf("RecordSent of batch 3 without entries = %v; want ErrInvalid", err)
	}
	// Sent: entries 3 and 4, the receipt names 3.
	if err := s.RecordSent(ctx, "GBR", 0, at, 3, []ledger.Event{ev(ledger.KindEnvelopeSent), ev(ledger.KindEnvelopeSent)}); err != nil {
		t.Fatalf("RecordSent of batch 3: %v", err)
	}
	// Sent again (the partner asked again): entry 5, the receipt stays.
	if err := s.RecordSent(ctx, "GBR", 0, at.Add(time.Second), 3, []ledger.Event{ev(ledger.KindEnvelopeSent)}); err != nil {
		t.Fatalf("RecordSent of batch 3 again: %v", err)
	}
	r, err := s.Receipt(ctx, "GBR", mailbox.RoleSender, 3)
	if err != nil {
		t.Fatalf("Receipt(GBR, sender, 3): %v", err)
	}
	if r.Index != 3 || !r.Recorded.Equal(at) || !r.Pending() || r.Partner != "GBR" || r.Through != 3 {
		t.Errorf("Receipt(GBR, sender, 3) = %+v; want index 3, recorded %v, pending", r, at)
	}
	// Received with an envelope: entry 6; without one (all withheld):
	// entry 7 and no receipt.
	if _, err := s.Receive(ctx, "c", nil, delivery("USA", 0, 4)); err != nil {
		t.Fatalf("Receive (0, 4] from USA: %v", err)
	}
	empty := delivery("USA", 4, 6)
	empty.Header, empty.Signature = nil, nil
	if _, err := s.Receive(ctx, "c", nil, empty); err != nil {
		t.Fatalf("Receive (4, 6] from USA without an envelope: %v", err)
	}
	r, err = s.Receipt(ctx, "USA", mailbox.RoleRecipient, 4)
	if err != nil || r.Index != 6 || !r.Pending() || !r.Recorded.Equal(base.Add(time.Hour)) {
		t.Errorf("Receipt(USA, recipient, 4) = %+v, %v; want index 6, pending", r, err)
	}
	if _, err := s.Receipt(ctx, "USA", mailbox.RoleRecipient, 6); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Receipt of a batch without an envelope = %v; want ErrNotFound", err)
	}
	if _, err := s.Receipt(ctx, "USA", mailbox.RoleSender, 4); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Receipt(USA, sender, 4) = %v; want ErrNotFound: this node received that batch", err)
	}
	if size, err := st.Size(ctx); err != nil || size != 8 {
		t.Fatalf("audit log size = %d, %v; want 8", size, err)
	}

	// The partner's side, verified.
	proof := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}
	v := r
	v.PartnerIndex, v.PartnerEntry, v.Checkpoint, v.Proof, v.Verified = 41, []byte(`{"kind":"envelope-sent"}`), []byte("checkpoint\n"), proof, at.Add(time.Minute)
	if err := s.SetReceipt(ctx, &v); err != nil {
		t.Fatalf("SetReceipt verified: %v", err)
	}
	got, err := s.Receipt(ctx, "USA", mailbox.RoleRecipient, 4)
	if err != nil || got.Pending() || got.PartnerIndex != 41 || !bytes.Equal(got.PartnerEntry, v.PartnerEntry) ||
		!bytes.Equal(got.Checkpoint, v.Checkpoint) || len(got.Proof) != 2 || !bytes.Equal(got.Proof[1], proof[1]) ||
		!got.Verified.Equal(v.Verified) || got.Index != 6 {
		t.Errorf("Receipt after SetReceipt = %+v, %v; want %+v", got, err, v)
	}
	// Settled once: no second answer replaces it.
	v.PartnerIndex = 42
	if err := s.SetReceipt(ctx, &v); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("SetReceipt on a verified receipt = %v; want ErrNotFound", err)
	}
	// The partner's side, failed.
	f := mailbox.BatchReceipt{Partner: "GBR", Role: mailbox.RoleSender, Through: 3, Failure: "inclusion proof does not verify"}
	if err := s.SetReceipt(ctx, &f); err != nil {
		t.Fatalf("SetReceipt failed: %v", err)
	}
	if got, err := s.Receipt(ctx, "GBR", mailbox.RoleSender, 3); err != nil || got.Failure != f.Failure || got.Pending() || !got.Verified.IsZero() {
		t.Errorf("Receipt after a failure = %+v, %v; want the failure", got, err)
	}
	for _, bad := range []mailbox.BatchReceipt{
		{Partner: "GBR", Role: "witness", Through: 3, Failure: "x"},
		{Partner: "GBR", Role: mailbox.RoleSender, Through: 3},
		{Partner: "GBR", Role: mailbox.RoleSender, Through: 3, Verified: at},
		{Partner: "GBR", Role: mailbox.RoleSender, Through: 3, Verified: at, PartnerEntry: []byte("e"), Checkpoint: []byte("c"), Proof: [][]byte{{1}}},
	} {
		if err := s.SetReceipt(ctx, &bad); !errors.Is(err, tearline.ErrInvalid) {
			t.Errorf("SetReceipt(%+v) = %v; want ErrInvalid", bad, err)
		}
	}

	// Queries.
	if err := s.RecordSent(ctx, "USA", 0, at, 9, []ledger.Event{ev(ledger.KindEnvelopeSent)}); err != nil {
		t.Fatal(err)
	}
	all, err := s.Receipts(ctx, mailbox.ReceiptQuery{})
	if err != nil || len(all) != 3 {
		t.Fatalf("Receipts() = %d, %v; want 3", len(all), err)
	}
	usa, err := s.Receipts(ctx, mailbox.ReceiptQuery{Partner: "USA"})
	if err != nil || len(usa) != 2 || usa[0].Role != mailbox.RoleRecipient || usa[1].Role != mailbox.RoleSender {
		t.Errorf("Receipts(USA) = %+v, %v; want the batch received, then the one sent", usa, err)
	}
	pending, err := s.Receipts(ctx, mailbox.ReceiptQuery{Pending: true})
	if err != nil || len(pending) != 1 || pending[0].Through != 9 || pending[0].Partner != "USA" {
		t.Errorf("Receipts(pending) = %+v, %v; want USA's batch 9", pending, err)
	}
	if got, err := s.Receipts(ctx, mailbox.ReceiptQuery{Partner: "USA", Role: mailbox.RoleSender}); err != nil || len(got) != 1 || got[0].Through != 9 {
		t.Errorf("Receipts(USA, sender) = %+v, %v; want batch 9", got, err)
	}
	if got, err := s.Receipts(ctx, mailbox.ReceiptQuery{Partner: "USA", Role: mailbox.RoleRecipient, From: 3}); err != nil || len(got) != 1 || got[0].Through != 4 {
		t.Errorf("Receipts(USA, recipient, from 3) = %+v, %v; want batch 4, the first through 3 or later", got, err)
	}
	if got, err := s.Receipts(ctx, mailbox.ReceiptQuery{From: 5}); err != nil || len(got) != 1 || got[0].Through != 9 {
		t.Errorf("Receipts(from 5) = %+v, %v; want batch 9", got, err)
	}
	if got, err := s.Receipts(ctx, mailbox.ReceiptQuery{From: 1 << 63}); err != nil || len(got) != 0 {
		t.Errorf("Receipts(from 2^63) = %+v, %v; want none", got, err)
	}
	if one, err := s.Receipts(ctx, mailbox.ReceiptQuery{Limit: 1}); err != nil || len(one) != 1 {
		t.Errorf("Receipts(limit 1) = %d, %v; want 1", len(one), err)
	}
	if err := ledger.Verify(ctx, st); err != nil {
		t.Errorf("audit log after receipts: %v", err)
	}
}
