package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline/federation/mailbox"
)

// The mailbox of a hub node (see mailbox.HubStore).

var _ mailbox.HubStore = (*Store)(nil)

type hubQueryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func hubPosition(ctx context.Context, q hubQueryer, sender, recipient string, lock bool) (mailbox.HubPosition, error) {
	p := mailbox.HubPosition{Sender: sender, Recipient: recipient}
	query := `SELECT seq_through, acked FROM hub_streams WHERE sender = $1 AND recipient = $2`
	if lock {
		query += ` FOR UPDATE`
	}
	var through, acked int64
	err := q.QueryRow(ctx, query, sender, recipient).Scan(&through, &acked)
	if errors.Is(err, pgx.ErrNoRows) {
		return p, nil
	}
	p.Through, p.Acked = uint64(through), uint64(acked)
	return p, err
}

func checkParties(sender, recipient string) error {
	for _, v := range []string{sender, recipient} {
		if err := checkText(v); err != nil {
			return err
		}
	}
	return nil
}

// HubPosition returns how far the hub holds the stream from sender to
// recipient.
func (s *Store) HubPosition(ctx context.Context, sender, recipient string) (mailbox.HubPosition, error) {
	if err := checkParties(sender, recipient); err != nil {
		return mailbox.HubPosition{}, fmt.Errorf("hub position: %w", err)
	}
	p, err := hubPosition(ctx, s.pool, sender, recipient, false)
	if err != nil {
		return p, fmt.Errorf("hub position: %w", err)
	}
	return p, nil
}

// lockStream creates the stream's row if it is new and locks it for the
// transaction, so that deposits and acknowledgements of one stream take
// turns.
func lockStream(ctx context.Context, tx pgx.Tx, sender, recipient string) (mailbox.HubPosition, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO hub_streams (sender, recipient, seq_through, acked) VALUES ($1, $2, 0, 0)
		ON CONFLICT DO NOTHING`, sender, recipient); err != nil {
		return mailbox.HubPosition{}, err
	}
	return hubPosition(ctx, tx, sender, recipient, true)
}

// HubDeposit keeps a batch that continues its stream.
func (s *Store) HubDeposit(ctx context.Context, b mailbox.HubBatch) (mailbox.HubPosition, error) {
	if err := checkParties(b.Sender, b.Recipient); err != nil {
		return mailbox.HubPosition{}, fmt.Errorf("hub deposit: %w", err)
	}
	if b.Through <= b.After || b.Head < b.Through || b.Head > 1<<63-1 || b.Withheld < 0 {
		return mailbox.HubPosition{}, fmt.Errorf("hub deposit: range (%d, %d] head %d: %w", b.After, b.Through, b.Head, mailbox.ErrHubRange)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mailbox.HubPosition{}, fmt.Errorf("hub deposit: %w", err)
	}
	defer tx.Rollback(ctx)
	p, err := lockStream(ctx, tx, b.Sender, b.Recipient)
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
	seal := b.RangeSeal
	if seal == nil {
		seal = []byte{}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO hub_batches (sender, recipient, seq_after, seq_through, head, withheld, envelope, range_seal, stored)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, b.Sender, b.Recipient, int64(b.After), int64(b.Through), int64(b.Head), b.Withheld,
		env, seal, nanos(b.Stored)); err != nil {
		return p, fmt.Errorf("hub deposit: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE hub_streams SET seq_through = $3 WHERE sender = $1 AND recipient = $2`,
		b.Sender, b.Recipient, int64(b.Through)); err != nil {
		return p, fmt.Errorf("hub deposit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return p, fmt.Errorf("hub deposit: %w", err)
	}
	p.Through = b.Through
	return p, nil
}

// HubNext records the recipient's acknowledgement, prunes what it covers
// and returns the batch after `after`.
func (s *Store) HubNext(ctx context.Context, sender, recipient string, after, acked uint64) (*mailbox.HubBatch, mailbox.HubPosition, error) {
	if err := checkParties(sender, recipient); err != nil {
		return nil, mailbox.HubPosition{}, fmt.Errorf("hub next: %w", err)
	}
	p, err := hubPosition(ctx, s.pool, sender, recipient, false)
	if err != nil {
		return nil, p, fmt.Errorf("hub next: %w", err)
	}
	if a := min(acked, p.Through); a > p.Acked {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			return nil, p, fmt.Errorf("hub next: %w", err)
		}
		defer tx.Rollback(ctx)
		if p, err = lockStream(ctx, tx, sender, recipient); err != nil {
			return nil, p, fmt.Errorf("hub next: %w", err)
		}
		if a := min(acked, p.Through); a > p.Acked {
			p.Acked = a
			if _, err := tx.Exec(ctx, `UPDATE hub_streams SET acked = $3 WHERE sender = $1 AND recipient = $2`, sender, recipient, int64(a)); err != nil {
				return nil, p, fmt.Errorf("hub next: %w", err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM hub_batches WHERE sender = $1 AND recipient = $2 AND seq_through <= $3`, sender, recipient, int64(a)); err != nil {
				return nil, p, fmt.Errorf("hub next: %w", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, p, fmt.Errorf("hub next: %w", err)
		}
	}
	if after == p.Through {
		return nil, p, nil
	}
	if after > 1<<63-1 {
		return nil, p, fmt.Errorf("hub next: after %d: %w", after, mailbox.ErrHubRange)
	}
	b := &mailbox.HubBatch{Sender: sender, Recipient: recipient, After: after}
	var through, head, stored int64
	err = s.pool.QueryRow(ctx, `SELECT seq_through, head, withheld, envelope, range_seal, stored FROM hub_batches
		WHERE sender = $1 AND recipient = $2 AND seq_after = $3`, sender, recipient, int64(after)).Scan(&through, &head, &b.Withheld, &b.Envelope, &b.RangeSeal, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
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
	for _, v := range []string{m.Sender, m.Recipient, m.ID, m.Kind} {
		if err := checkText(v); err != nil {
			return false, fmt.Errorf("hub post: %w", err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	defer tx.Rollback(ctx)
	// Posts from one sender to one recipient take turns, so that the
	// limit holds.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, m.Sender+"\x1f"+m.Recipient); err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	var held int
	var dup bool
	if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(bool_or(id = $3), false) FROM hub_messages WHERE recipient = $1 AND sender = $2`,
		m.Recipient, m.Sender, m.ID).Scan(&held, &dup); err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	if dup {
		return false, nil
	}
	if held >= limit {
		return false, fmt.Errorf("hub post: %d messages from %s to %s held: %w", held, m.Sender, m.Recipient, mailbox.ErrHubFull)
	}
	body, seal := m.Body, m.Seal
	if body == nil {
		body = []byte{}
	}
	if seal == nil {
		seal = []byte{}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO hub_messages (sender, recipient, id, kind, body, seal, stored) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		m.Sender, m.Recipient, m.ID, m.Kind, body, seal, nanos(m.Stored)); err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("hub post: %w", err)
	}
	return true, nil
}

// HubInbox returns the oldest messages held for recipient.
func (s *Store) HubInbox(ctx context.Context, recipient string, limit int) ([]mailbox.HubMessage, error) {
	if err := checkText(recipient); err != nil {
		return nil, fmt.Errorf("hub inbox: %w", err)
	}
	rows, err := s.pool.Query(ctx, `SELECT sender, id, kind, body, seal, stored FROM hub_messages WHERE recipient = $1 ORDER BY seq LIMIT $2`,
		recipient, max(limit, 0))
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
	for _, v := range []string{recipient, sender, id} {
		if err := checkText(v); err != nil {
			return fmt.Errorf("hub take: %w", err)
		}
	}
	if _, err := s.pool.Exec(ctx, `DELETE FROM hub_messages WHERE recipient = $1 AND sender = $2 AND id = $3`, recipient, sender, id); err != nil {
		return fmt.Errorf("hub take: %w", err)
	}
	return nil
}
