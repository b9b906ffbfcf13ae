package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tearline/tearline/federation/mailbox"
)

// The mailbox of a hub node (see mailbox.HubStore).

var _ mailbox.HubStore = (*Store)(nil)

type hubQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func hubPosition(ctx context.Context, q hubQueryer, sender, recipient string) (mailbox.HubPosition, error) {
	p := mailbox.HubPosition{Sender: sender, Recipient: recipient}
	var through, acked int64
	err := q.QueryRowContext(ctx, `SELECT seq_through, acked FROM hub_streams WHERE sender = ? AND recipient = ?`, sender, recipient).Scan(&through, &acked)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	p.Through, p.Acked = uint64(through), uint64(acked)
	return p, err
}

// HubPosition returns how far the hub holds the stream from sender to
// recipient.
func (s *Store) HubPosition(ctx context.Context, sender, recipient string) (mailbox.HubPosition, error) {
	p, err := hubPosition(ctx, s.db, sender, recipient)
	if err != nil {
		return p, fmt.Errorf("hub position: %w", err)
	}
	return p, nil
}

// HubDeposit keeps a batch that continues its stream.
func (s *Store) HubDeposit(ctx context.Context, b mailbox.HubBatch) (mailbox.HubPosition, error) {
	if s.readOnly {
		return mailbox.HubPosition{}, errors.New("hub deposit: the store is open read-only")
	}
	if b.Through <= b.After || b.Head < b.Through || b.Through > 1<<63-1 {
		return mailbox.HubPosition{}, fmt.Errorf("hub deposit: range (%d, %d] head %d: %w", b.After, b.Through, b.Head, mailbox.ErrHubRange)
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return mailbox.HubPosition{}, fmt.Errorf("hub deposit: %w", err)
	}
	defer done()
	p, err := hubPosition(ctx, tx, b.Sender, b.Recipient)
	if err != nil {
		return p, fmt.Errorf("hub deposit: %w", err)
	}
	if b.After != p.Through {
		return p, fmt.Errorf("hub deposit: a batch after %d, but the hub holds %s's stream to %s through %d: %w",
			b.After, b.Sender, b.Recipient, p.Through, mailbox.ErrHubRange)
	}
	env := b.Envelope
	if env == nil {
		env = []byte{}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO hub_batches (sender, recipient, seq_after, seq_through, head, withheld, envelope, range_seal, stored)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, b.Sender, b.Recipient, int64(b.After), int64(b.Through), int64(b.Head), b.Withheld,
		env, b.RangeSeal, nanos(b.Stored)); err != nil {
		return p, fmt.Errorf("hub deposit: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO hub_streams (sender, recipient, seq_through, acked) VALUES (?, ?, ?, 0)
		ON CONFLICT (sender, recipient) DO UPDATE SET seq_through = excluded.seq_through`, b.Sender, b.Recipient, int64(b.Through)); err != nil {
		return p, fmt.Errorf("hub deposit: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return p, fmt.Errorf("hub deposit: %w", err)
	}
	p.Through = b.Through
	return p, nil
}

// HubNext records the recipient's acknowledgement, prunes what it covers
// and returns the batch after `after`.
func (s *Store) HubNext(ctx context.Context, sender, recipient string, after, acked uint64) (*mailbox.HubBatch, mailbox.HubPosition, error) {
	if s.readOnly {
		return nil, mailbox.HubPosition{}, errors.New("hub next: the store is open read-only")
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return nil, mailbox.HubPosition{}, fmt.Errorf("hub next: %w", err)
	}
	defer done()
	p, err := hubPosition(ctx, tx, sender, recipient)
	if err != nil {
		return nil, p, fmt.Errorf("hub next: %w", err)
	}
	if a := min(acked, p.Through); a > p.Acked {
		p.Acked = a
		if _, err := tx.ExecContext(ctx, `UPDATE hub_streams SET acked = ? WHERE sender = ? AND recipient = ?`, int64(a), sender, recipient); err != nil {
			return nil, p, fmt.Errorf("hub next: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM hub_batches WHERE sender = ? AND recipient = ? AND seq_through <= ?`, sender, recipient, int64(a)); err != nil {
			return nil, p, fmt.Errorf("hub next: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, p, fmt.Errorf("hub next: %w", err)
	}
	if after == p.Through {
		return nil, p, nil
	}
	b := &mailbox.HubBatch{Sender: sender, Recipient: recipient, After: after}
	var through, head, stored int64
	err = s.db.QueryRowContext(ctx, `SELECT seq_through, head, withheld, envelope, range_seal, stored FROM hub_batches
		WHERE sender = ? AND recipient = ? AND seq_after = ?`, sender, recipient, int64(after)).Scan(&through, &head, &b.Withheld, &b.Envelope, &b.RangeSeal, &stored)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, p, fmt.Errorf("hub next: no batch of %s's stream to %s starts after %d (held through %d, acknowledged %d): %w",
			sender, recipient, after, p.Through, p.Acked, mailbox.ErrHubRange)
	}
	if err != nil {
		return nil, p, fmt.Errorf("hub next: %w", err)
	}
	b.Through, b.Head, b.Stored = uint64(through), uint64(head), fromNanos(stored)
	return b, p, nil
}

// HubPost keeps a message for its recipient, once.
func (s *Store) HubPost(ctx context.Context, m mailbox.HubMessage, limit int) (bool, error) {
	if s.readOnly {
		return false, errors.New("hub post: the store is open read-only")
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	defer done()
	var held int
	var dup bool
	if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(max(id = ?), 0) FROM hub_messages WHERE recipient = ? AND sender = ?`,
		m.ID, m.Recipient, m.Sender).Scan(&held, &dup); err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	if dup {
		return false, nil
	}
	if held >= limit {
		return false, fmt.Errorf("hub post: %d messages from %s to %s held: %w", held, m.Sender, m.Recipient, mailbox.ErrHubFull)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO hub_messages (sender, recipient, id, kind, body, seal, stored) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.Sender, m.Recipient, m.ID, m.Kind, nonNilBytes(m.Body), nonNilBytes(m.Seal), nanos(m.Stored)); err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	return true, nil
}

// HubInbox returns the oldest messages held for recipient.
func (s *Store) HubInbox(ctx context.Context, recipient string, limit int) ([]mailbox.HubMessage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT sender, id, kind, body, seal, stored FROM hub_messages WHERE recipient = ? ORDER BY seq LIMIT ?`,
		recipient, limit)
	if err != nil {
		return nil, fmt.Errorf("hub inbox: %w", err)
	}
	defer rows.Close()
	var out []mailbox.HubMessage
	for rows.Next() {
		m := mailbox.HubMessage{Recipient: recipient}
		var stored int64
		if err := rows.Scan(&m.Sender, &m.ID, &m.Kind, &m.Body, &m.Seal, &stored); err != nil {
			return nil, fmt.Errorf("hub inbox: %w", err)
		}
		m.Stored = fromNanos(stored)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hub inbox: %w", err)
	}
	return out, nil
}

// HubTake removes a message its recipient took.
func (s *Store) HubTake(ctx context.Context, recipient, sender, id string) error {
	if s.readOnly {
		return errors.New("hub take: the store is open read-only")
	}
	if _, err := s.exec(ctx, `DELETE FROM hub_messages WHERE recipient = ? AND sender = ? AND id = ?`, recipient, sender, id); err != nil {
		return fmt.Errorf("hub take: %w", err)
	}
	return nil
}
