package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Recalls (see mailbox.RecallStore): notices issued and applied, the
// purge of what they name with its tombstone, and the messages to deliver.

var _ mailbox.RecallStore = (*Store)(nil)

// IssueRecall keeps the originator's recall, purges the version here and
// queues the notice for every partner it was sent to.
func (s *Store) IssueRecall(ctx context.Context, r mailbox.Recall, events func(targets []string) []ledger.Event) ([]string, error) {
	var targets []string
	err := s.recall(ctx, r, func(tx *sql.Tx, now int64) error {
		var err error
		if targets, err = recallTargets(ctx, tx, r, r.Originator, ""); err != nil {
			return err
		}
		if _, err := s.purge(ctx, tx, r, now); err != nil {
			return err
		}
		for _, p := range targets {
			if _, err := tx.ExecContext(ctx, `INSERT INTO recall_targets (notice, partner) VALUES (?, ?)`, r.Notice, p); err != nil {
				return fmt.Errorf("recall target: %w", err)
			}
			if err := queueRecall(ctx, tx, p, mailbox.RecallNotice, r.Notice, r.Record, now); err != nil {
				return err
			}
		}
		return appendEvents(ctx, s, tx, events(targets))
	})
	return targets, err
}

// ApplyRecall applies a notice received from a partner.
func (s *Store) ApplyRecall(ctx context.Context, r mailbox.Recall, from, self string, ack func(int, []string) ([]byte, []ledger.Event, error)) (int, []string, error) {
	var purged int
	var forwarded []string
	err := s.recall(ctx, r, func(tx *sql.Tx, now int64) error {
		var err error
		if forwarded, err = recallTargets(ctx, tx, r, self, from); err != nil {
			return err
		}
		if purged, err = s.purge(ctx, tx, r, now); err != nil {
			return err
		}
		for _, p := range forwarded {
			if err := queueRecall(ctx, tx, p, mailbox.RecallNotice, r.Notice, r.Record, now); err != nil {
				return err
			}
		}
		record, evs, err := ack(purged, forwarded)
		if err != nil {
			return err
		}
		if err := queueRecall(ctx, tx, r.Originator, mailbox.RecallAck, r.Notice, record, now); err != nil {
			return err
		}
		return appendEvents(ctx, s, tx, evs)
	})
	return purged, forwarded, err
}

// recall keeps the notice, refusing one kept before, and runs within in
// the same transaction.
func (s *Store) recall(ctx context.Context, r mailbox.Recall, within func(tx *sql.Tx, now int64) error) error {
	if s.readOnly {
		return errors.New("recall: the store is open read-only")
	}
	if r.Notice == "" || r.Object == "" || r.Originator == "" || len(r.Record) == 0 {
		return errors.New("recall: notice, object, originator and record are required")
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("recall: %w", err)
	}
	defer done()
	res, err := tx.ExecContext(ctx, `INSERT INTO recalls (notice, originator, object_id, version, hash, reason, issued, record)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (notice) DO NOTHING`,
		r.Notice, r.Originator, r.Object, nanos(r.Version), r.Hash[:], r.Reason, nanos(r.Issued), r.Record)
	if err != nil {
		return fmt.Errorf("recall %s: %w", r.Notice, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("recall %s: %w", r.Notice, err)
	} else if n == 0 {
		return fmt.Errorf("recall %s: %w", r.Notice, mailbox.ErrRecallKnown)
	}
	if err := within(tx, s.now().UnixNano()); err != nil {
		return fmt.Errorf("recall %s: %w", r.Notice, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recall %s: commit: %w", r.Notice, err)
	}
	return nil
}

// recallTargets are the partners the version was sent to, or is queued
// for and that have pulled from this node (a batch with it may be on its
// way), except self and from.
func recallTargets(ctx context.Context, tx *sql.Tx, r mailbox.Recall, self, from string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT partner FROM outbox_delivered WHERE object_id = ? AND hash = ?
		UNION SELECT x.partner FROM outbox x JOIN objects o ON o.date_added = x.date_added
			JOIN outbox_heads h ON h.partner = x.partner AND h.sent <> 0
		WHERE o.object_id = ? AND o.hash = ?`,
		r.Object, r.Hash[:], r.Object, r.Hash[:])
	if err != nil {
		return nil, fmt.Errorf("recall targets: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, fmt.Errorf("recall targets: %w", err)
		}
		if p != self && p != from && p != r.Originator {
			out = append(out, p)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recall targets: %w", err)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// purge deletes the version from every collection and keeps its
// tombstone. What is queued for it in outboxes is then sent as deleted:
// never.
func (s *Store) purge(ctx context.Context, tx *sql.Tx, r mailbox.Recall, now int64) (int, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM objects WHERE date_added IN (SELECT date_added FROM object_keys
		WHERE collection IN (SELECT seq FROM collections) AND id_key = ?) AND object_id = ? AND hash = ?`, idKey(r.Object), r.Object, r.Hash[:])
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tombstones (object_id, hash, version, recalled_by, reason, notice, recalled, purged)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		r.Object, r.Hash[:], nanos(r.Version), r.Originator, r.Reason, r.Notice, nanos(r.Issued), now); err != nil {
		return 0, fmt.Errorf("tombstone: %w", err)
	}
	return int(n), nil
}

func queueRecall(ctx context.Context, tx *sql.Tx, partner, kind, notice string, body []byte, now int64) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO recall_messages (partner, kind, notice, body, queued) VALUES (?, ?, ?, ?, ?)`,
		partner, kind, notice, body, now); err != nil {
		return fmt.Errorf("queue recall %s for %s: %w", kind, partner, err)
	}
	return nil
}

func appendEvents(ctx context.Context, s *Store, tx *sql.Tx, evs []ledger.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if _, err := ledger.New(s.ledgerIn(tx)).Append(ctx, evs...); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// RecallMessages returns the messages still to deliver, oldest first.
func (s *Store) RecallMessages(ctx context.Context, limit int) ([]mailbox.RecallMessage, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, partner, kind, notice, body, attempts FROM recall_messages
		WHERE delivered = 0 AND final = 0 ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("recall messages: %w", err)
	}
	defer rows.Close()
	var out []mailbox.RecallMessage
	for rows.Next() {
		var m mailbox.RecallMessage
		if err := rows.Scan(&m.ID, &m.Partner, &m.Kind, &m.Notice, &m.Body, &m.Attempts); err != nil {
			return nil, fmt.Errorf("recall messages: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recall messages: %w", err)
	}
	return out, nil
}

// RecallSent records a delivery attempt, and for a notice of this node's
// own, the target's state.
func (s *Store) RecallSent(ctx context.Context, id int64, at time.Time, failure string, final bool) error {
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("recall message %d: %w", id, err)
	}
	defer done()
	delivered := int64(0)
	if failure == "" {
		delivered = at.UnixNano()
	}
	var partner, kind, notice string
	err = tx.QueryRowContext(ctx, `UPDATE recall_messages SET delivered = ?, final = ?, attempts = attempts + 1, error = ?
		WHERE id = ? RETURNING partner, kind, notice`, delivered, final, failure, id).Scan(&partner, &kind, &notice)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("recall message %d: no such message", id)
	}
	if err != nil {
		return fmt.Errorf("recall message %d: %w", id, err)
	}
	if kind == mailbox.RecallNotice {
		if _, err := tx.ExecContext(ctx, `UPDATE recall_targets SET delivered = max(delivered, ?), error = ? WHERE notice = ? AND partner = ?`,
			delivered, failure, notice, partner); err != nil {
			return fmt.Errorf("recall message %d: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recall message %d: %w", id, err)
	}
	return nil
}

// RecordRecallAck keeps a holder's acknowledgement of one of this node's
// recalls.
func (s *Store) RecordRecallAck(ctx context.Context, notice, holder string, purged int, forwarded []string, record []byte, at time.Time, ev ledger.Event) error {
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	defer done()
	var originator string
	err = tx.QueryRowContext(ctx, `SELECT originator FROM recalls WHERE notice = ?`, notice).Scan(&originator)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("recall acknowledgement of %s: %w", notice, mailbox.ErrUnknownRecall)
	}
	if err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	// Only the originator's own recalls are followed here: one applied as
	// a holder is not this node's to track.
	var issued bool
	if err := tx.QueryRowContext(ctx, `SELECT NOT EXISTS (SELECT 1 FROM recall_messages WHERE notice = ? AND kind = ?)`,
		notice, mailbox.RecallAck).Scan(&issued); err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	if !issued {
		return fmt.Errorf("recall acknowledgement of %s: %w", notice, mailbox.ErrUnknownRecall)
	}
	var again bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM recall_targets WHERE notice = ? AND partner = ? AND record = ?)`,
		notice, holder, record).Scan(&again); err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	if again {
		return nil // delivered twice: kept and logged the first time
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO recall_targets (notice, partner, acknowledged, purged, record) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (notice, partner) DO UPDATE SET acknowledged = excluded.acknowledged, purged = excluded.purged, record = excluded.record`,
		notice, holder, at.UnixNano(), purged, record); err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	for _, p := range forwarded {
		if p == originator {
			continue
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO recall_targets (notice, partner) VALUES (?, ?) ON CONFLICT DO NOTHING`, notice, p); err != nil {
			return fmt.Errorf("recall acknowledgement: %w", err)
		}
	}
	if err := appendEvents(ctx, s, tx, []ledger.Event{ev}); err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("recall acknowledgement: commit: %w", err)
	}
	return nil
}

// Recalls returns the recalls this node issued of object (every one when
// object is empty).
func (s *Store) Recalls(ctx context.Context, object string) ([]mailbox.RecallStatus, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.notice, r.originator, r.object_id, r.version, r.hash, r.reason, r.issued, r.record
		FROM recalls r WHERE (? = '' OR r.object_id = ?)
			AND NOT EXISTS (SELECT 1 FROM recall_messages m WHERE m.notice = r.notice AND m.kind = ?)
		ORDER BY r.issued, r.notice`, object, object, mailbox.RecallAck)
	if err != nil {
		return nil, fmt.Errorf("recalls: %w", err)
	}
	var out []mailbox.RecallStatus
	for rows.Next() {
		var st mailbox.RecallStatus
		var version, issued int64
		var hash []byte
		if err := rows.Scan(&st.Notice, &st.Originator, &st.Object, &version, &hash, &st.Reason, &issued, &st.Record); err != nil {
			rows.Close()
			return nil, fmt.Errorf("recalls: %w", err)
		}
		copy(st.Hash[:], hash)
		st.Version, st.Issued = fromNanos(version), fromNanos(issued)
		out = append(out, st)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recalls: %w", err)
	}
	for i := range out {
		trows, err := s.db.QueryContext(ctx, `SELECT partner, delivered, error, acknowledged, purged, record FROM recall_targets
			WHERE notice = ? ORDER BY partner`, out[i].Notice)
		if err != nil {
			return nil, fmt.Errorf("recalls: %w", err)
		}
		for trows.Next() {
			var t mailbox.RecallTarget
			var delivered, acked int64
			if err := trows.Scan(&t.Partner, &delivered, &t.Error, &acked, &t.Purged, &t.Record); err != nil {
				trows.Close()
				return nil, fmt.Errorf("recalls: %w", err)
			}
			t.Delivered, t.Acknowledged = fromNanos(delivered), fromNanos(acked)
			out[i].Targets = append(out[i].Targets, t)
		}
		trows.Close()
		if err := trows.Err(); err != nil {
			return nil, fmt.Errorf("recalls: %w", err)
		}
	}
	return out, nil
}

// Tombstones returns what is kept of object's purged versions.
func (s *Store) Tombstones(ctx context.Context, object string) ([]mailbox.Tombstone, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT object_id, hash, version, recalled_by, reason, notice, recalled, purged
		FROM tombstones WHERE object_id = ? ORDER BY version, hash`, object)
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	defer rows.Close()
	var out []mailbox.Tombstone
	for rows.Next() {
		var t mailbox.Tombstone
		var hash []byte
		var version, recalled, purged int64
		if err := rows.Scan(&t.Object, &hash, &version, &t.RecalledBy, &t.Reason, &t.Notice, &recalled, &purged); err != nil {
			return nil, fmt.Errorf("tombstones: %w", err)
		}
		copy(t.Hash[:], hash)
		t.Version, t.Recalled, t.Purged = fromNanos(version), fromNanos(recalled), fromNanos(purged)
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	return out, nil
}
