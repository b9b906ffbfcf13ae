package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
)

// HubOpener returns a new, empty hub mailbox.
type HubOpener func(t *testing.T) mailbox.HubStore

// RunHub checks a hub's mailbox: a stream starts at zero; a batch is kept
// only if it continues the stream, with its envelope (empty when every
// entry was withheld), range seal, head and counts as deposited; the
// recipient's acknowledgement moves forward only, never past what was
// deposited, and prunes the batches it covers; streams are independent.
// Messages are kept once per sender, recipient and id, up to the limit
// from one sender to one recipient, listed oldest first with every field
// as posted, and removed when taken, for that recipient only.
func RunHub(t *testing.T, open HubOpener) {
	ctx := context.Background()
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	t.Run("Batches", func(t *testing.T) {
		s := open(t)
		pos := func(from, to string, through, acked uint64) {
			t.Helper()
			p, err := s.HubPosition(ctx, from, to)
			if err != nil || p.Through != through || p.Acked != acked || p.Sender != from || p.Recipient != to {
				t.Fatalf("HubPosition(%s, %s) = %+v, %v; want through %d, acknowledged %d", from, to, p, err, through, acked)
			}
		}
		pos("GBR", "USA", 0, 0)
		if b, _, err := s.HubNext(ctx, "GBR", "USA", 0, 0); b != nil || err != nil {
			t.Fatalf("HubNext on a new stream = %+v, %v; want nothing", b, err)
		}
		b1 := mailbox.HubBatch{Sender: "GBR", Recipient: "USA", After: 0, Through: 3, Head: 5, Withheld: 1,
			Envelope: []byte("\x89sealed\x00one"), RangeSeal: []byte("seal-1"), Stored: at}
		if p, err := s.HubDeposit(ctx, b1); err != nil || p.Through != 3 {
			t.Fatalf("HubDeposit(%d, %d] = %+v, %v", b1.After, b1.Through, p, err)
		}
		for _, bad := range []mailbox.HubBatch{
			{Sender: "GBR", Recipient: "USA", After: 0, Through: 2, Head: 5, Envelope: []byte("again")},
			{Sender: "GBR", Recipient: "USA", After: 2, Through: 4, Head: 5, Envelope: []byte("overlap")},
			{Sender: "GBR", Recipient: "USA", After: 4, Through: 5, Head: 5, Envelope: []byte("gap")},
			{Sender: "GBR", Recipient: "USA", After: 3, Through: 3, Head: 5},
			{Sender: "GBR", Recipient: "USA", After: 3, Through: 6, Head: 5, Envelope: []byte("past head")},
		} {
			if _, err := s.HubDeposit(ctx, bad); !errors.Is(err, mailbox.ErrHubRange) {
				t.Errorf("HubDeposit(%d, %d] head %d after (0, 3] = %v; want ErrHubRange", bad.After, bad.Through, bad.Head, err)
			}
		}
		pos("GBR", "USA", 3, 0)
		// Every entry of (3, 5] withheld: no envelope.
		b2 := mailbox.HubBatch{Sender: "GBR", Recipient: "USA", After: 3, Through: 5, Head: 5, Withheld: 2,
			RangeSeal: []byte("seal-2"), Stored: at.Add(time.Second)}
		if _, err := s.HubDeposit(ctx, b2); err != nil {
			t.Fatalf("HubDeposit(3, 5]: %v", err)
		}
		same := func(got *mailbox.HubBatch, want mailbox.HubBatch) {
			t.Helper()
			if got == nil || got.Sender != want.Sender || got.Recipient != want.Recipient || got.After != want.After ||
				got.Through != want.Through || got.Head != want.Head || got.Withheld != want.Withheld ||
				!bytes.Equal(got.Envelope, want.Envelope) || !bytes.Equal(got.RangeSeal, want.RangeSeal) || !got.Stored.Equal(want.Stored) {
				t.Fatalf("batch = %+v\nwant %+v", got, want)
			}
		}
		got, _, err := s.HubNext(ctx, "GBR", "USA", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		same(got, b1)
		got, p, err := s.HubNext(ctx, "GBR", "USA", 3, 3)
		if err != nil || p.Acked != 3 {
			t.Fatalf("HubNext(after 3, acknowledged 3) = %+v, %v", p, err)
		}
		if len(got.Envelope) != 0 {
			t.Fatalf("a batch deposited without an envelope has one of %d bytes", len(got.Envelope))
		}
		b2.Envelope = got.Envelope
		same(got, b2)
		// The acknowledged batch is gone.
		if _, _, err := s.HubNext(ctx, "GBR", "USA", 0, 3); !errors.Is(err, mailbox.ErrHubRange) {
			t.Errorf("HubNext of an acknowledged batch = %v; want ErrHubRange", err)
		}
		if _, _, err := s.HubNext(ctx, "GBR", "USA", 4, 3); !errors.Is(err, mailbox.ErrHubRange) {
			t.Errorf("HubNext(after 4), where no batch starts = %v; want ErrHubRange", err)
		}
		// Acknowledged past what was deposited: held at the stream's end;
		// backwards: ignored.
		if b, p, err := s.HubNext(ctx, "GBR", "USA", 5, 99); b != nil || err != nil || p.Acked != 5 {
			t.Fatalf("HubNext(after 5, acknowledged 99) = %+v, %+v, %v; want nothing, acknowledged 5", b, p, err)
		}
		if _, p, err := s.HubNext(ctx, "GBR", "USA", 5, 1); err != nil || p.Acked != 5 {
			t.Fatalf("HubNext(acknowledged 1 after 5) = %+v, %v; want acknowledged 5", p, err)
		}
		pos("GBR", "USA", 5, 5)
		pos("USA", "GBR", 0, 0)
		pos("GBR", "CAN", 0, 0)
		b3 := mailbox.HubBatch{Sender: "USA", Recipient: "GBR", After: 0, Through: 1, Head: 1, Envelope: []byte("usa"), RangeSeal: []byte("s"), Stored: at}
		if _, err := s.HubDeposit(ctx, b3); err != nil {
			t.Fatal(err)
		}
		pos("USA", "GBR", 1, 0)
		pos("GBR", "USA", 5, 5)
	})
	t.Run("Messages", func(t *testing.T) {
		s := open(t)
		msg := func(from, to, id string, n int) mailbox.HubMessage {
			return mailbox.HubMessage{Sender: from, Recipient: to, ID: id, Kind: "recall", Body: []byte{0, byte(n), 0xff},
				Seal: []byte{byte(n), 1}, Stored: at.Add(time.Duration(n) * time.Second)}
		}
		m1, m2, m3 := msg("GBR", "USA", "a1", 1), msg("GBR", "USA", "a2", 2), msg("CAN", "USA", "a1", 3)
		m4 := msg("GBR", "CAN", "a1", 4)
		for _, m := range []mailbox.HubMessage{m1, m2, m3, m4} {
			if added, err := s.HubPost(ctx, m, 2); err != nil || !added {
				t.Fatalf("HubPost(%s to %s, %s) = %v, %v", m.Sender, m.Recipient, m.ID, added, err)
			}
		}
		again := m1
		again.Body = []byte("another body")
		if added, err := s.HubPost(ctx, again, 2); err != nil || added {
			t.Fatalf("HubPost of a message held already = %v, %v; want kept once", added, err)
		}
		if _, err := s.HubPost(ctx, msg("GBR", "USA", "a3", 5), 2); !errors.Is(err, mailbox.ErrHubFull) {
			t.Fatalf("HubPost of a third message from GBR to USA, limit 2 = %v; want ErrHubFull", err)
		}
		inbox := func(to string, limit int, want ...mailbox.HubMessage) {
			t.Helper()
			got, err := s.HubInbox(ctx, to, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("HubInbox(%s, %d): %d messages; want %d", to, limit, len(got), len(want))
			}
			for i := range want {
				g, w := got[i], want[i]
				if g.Sender != w.Sender || g.Recipient != w.Recipient || g.ID != w.ID || g.Kind != w.Kind ||
					!bytes.Equal(g.Body, w.Body) || !bytes.Equal(g.Seal, w.Seal) || !g.Stored.Equal(w.Stored) {
					t.Fatalf("HubInbox(%s)[%d] = %+v\nwant %+v", to, i, g, w)
				}
			}
		}
		inbox("USA", 10, m1, m2, m3)
		inbox("USA", 2, m1, m2)
		inbox("CAN", 10, m4)
		inbox("GBR", 10)
		if err := s.HubTake(ctx, "USA", "GBR", "a1"); err != nil {
			t.Fatal(err)
		}
		inbox("USA", 10, m2, m3)
		inbox("CAN", 10, m4)
		if err := s.HubTake(ctx, "USA", "GBR", "a1"); err != nil {
			t.Fatalf("taking a message taken already: %v", err)
		}
		// Taken, its id can be posted again, and below the limit again.
		if added, err := s.HubPost(ctx, m1, 2); err != nil || !added {
			t.Fatalf("HubPost of a message taken = %v, %v", added, err)
		}
		inbox("USA", 10, m2, m3, m1)
	})
}
