package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Recalls (see mailbox.RecallStore): notices issued and applied, the
// purge of what they name with its tombstone, and the messages to deliver.
//
// A recall transaction locks the clock row, as every writer of objects
// does, before it purges: a copy of the version that another replica is
// writing at the same time either commits first, and is purged, or waits
// and then meets the tombstone (trigger objects_recalled). It then takes
// the outbox lock, so that no outbox entry for the version is added while
// the partners to notify are read. Locks are taken in the order PutObjects
// takes them: clock, outbox, audit log head.

var _ mailbox.RecallStore = (*Store)(nil)

// IssueRecall keeps the originator's recall, purges the version here and
// queues the notice for every partner it was sent to.
func (s *Store) IssueRecall(ctx context.Context, r mailbox.Recall, events func(targets []string) []ledger.Event) ([]string, error) {
	var targets []string
	err := s.recall(ctx, r, func(tx pgx.Tx, now int64) error {
		var err error
		if targets, err = recallTargets(ctx, tx, r, r.Originator, ""); err != nil {
			return err
		}
		if _, err := purge(ctx, tx, r, now); err != nil {
			return err
		}
		for _, p := range targets {
			if _, err := tx.Exec(ctx, `INSERT INTO recall_targets (notice, partner) VALUES ($1, $2)`, r.Notice, p); err != nil {
				return fmt.Errorf("recall target: %w", err)
			}
			if err := queueRecall(ctx, tx, p, mailbox.RecallNotice, r.Notice, r.Record, now); err != nil {
				return err
			}
		}
		return s.appendEvents(ctx, tx, events(targets))
	})
	if err != nil {
		return nil, err
	}
	return targets, nil
}

// ApplyRecall applies a notice received from a partner.
func (s *Store) ApplyRecall(ctx context.Context, r mailbox.Recall, from, self string, ack func(int, []string) ([]byte, []ledger.Event, error)) (int, []string, error) {
	var purged int
	var forwarded []string
	err := s.recall(ctx, r, func(tx pgx.Tx, now int64) error {
		var err error
		if forwarded, err = recallTargets(ctx, tx, r, self, from); err != nil {
			return err
		}
		if purged, err = purge(ctx, tx, r, now); err != nil {
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
		if len(record) == 0 {
			return errors.New("no acknowledgement to send")
		}
		if err := queueRecall(ctx, tx, r.Originator, mailbox.RecallAck, r.Notice, record, now); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, evs)
	})
	if err != nil {
		return 0, nil, err
	}
	return purged, forwarded, nil
}

// recall keeps the notice, refusing one kept before, and runs within in
// the same transaction, holding the clock row and the outbox lock.
func (s *Store) recall(ctx context.Context, r mailbox.Recall, within func(tx pgx.Tx, now int64) error) error {
	if r.Notice == "" || r.Object == "" || r.Originator == "" || len(r.Record) == 0 {
		return fmt.Errorf("recall: notice, object, originator and record are required: %w", tearline.ErrInvalid)
	}
	for _, v := range []string{r.Notice, r.Originator, r.Object, r.Reason} {
		if err := checkText(v); err != nil {
			return fmt.Errorf("recall: %w", err)
		}
	}
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("recall %s: %w", r.Notice, err)
	}
	defer tx.Rollback(ctx)
	// Of two replicas keeping the same notice, the second waits here for
	// the first to commit and then finds it kept.
	tag, err := tx.Exec(ctx, `INSERT INTO recalls (notice, originator, object_id, version, hash, reason, issued, record)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (notice) DO NOTHING`,
		r.Notice, r.Originator, r.Object, nanos(r.Version), r.Hash[:], r.Reason, nanos(r.Issued), r.Record)
	if err != nil {
		return fmt.Errorf("recall %s: %w", r.Notice, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("recall %s: %w", r.Notice, mailbox.ErrRecallKnown)
	}
	if _, err := tx.Exec(ctx, "SELECT FROM clock FOR UPDATE"); err != nil {
		return fmt.Errorf("recall %s: lock clock: %w", r.Notice, err)
	}
	if err := lockOutbox(ctx, tx); err != nil {
		return fmt.Errorf("recall %s: %w", r.Notice, err)
	}
	if err := within(tx, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("recall %s: %w", r.Notice, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("recall %s: commit: %w", r.Notice, err)
	}
	return nil
}

// recallTargets are the partners the version was sent to, or is queued
// for and that have pulled from this node (a batch with it may be on its
// way), except self, from and the originator.
func recallTargets(ctx context.Context, tx pgx.Tx, r mailbox.Recall, self, from string) ([]string, error) {
	// The second half starts from the partners, whose outbox index leads
	// with the partner: objects are found by id through each collection.
	rows, err := tx.Query(ctx, `SELECT partner FROM outbox_delivered WHERE object_id = $1 AND hash = $2
		UNION
		SELECT h.partner FROM outbox_heads h WHERE h.sent <> 0 AND EXISTS (
			SELECT FROM collections c
				JOIN objects o ON o.collection = c.num AND o.id = $1 AND o.hash = $2
				JOIN outbox x ON x.partner = h.partner AND x.date_added = o.date_added AND x.collection = o.collection)`,
		r.Object, r.Hash[:])
	if err != nil {
		return nil, fmt.Errorf("recall targets: %w", err)
	}
	partners, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("recall targets: %w", err)
	}
	var out []string
	for _, p := range partners {
		if p != self && p != from && p != r.Originator {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// purge deletes the version from every collection and keeps its
// tombstone. What is queued for it in outboxes is then sent as deleted:
// never.
func purge(ctx context.Context, tx pgx.Tx, r mailbox.Recall, now int64) (int, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM objects o USING collections c
		WHERE o.collection = c.num AND o.id = $1 AND o.hash = $2`, r.Object, r.Hash[:])
	if err != nil {
		return 0, fmt.Errorf("purge: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO tombstones (object_id, hash, version, recalled_by, reason, notice, recalled, purged)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
		r.Object, r.Hash[:], nanos(r.Version), r.Originator, r.Reason, r.Notice, nanos(r.Issued), now); err != nil {
		return 0, fmt.Errorf("tombstone: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func queueRecall(ctx context.Context, tx pgx.Tx, partner, kind, notice string, body []byte, now int64) error {
	if err := checkText(partner); err != nil {
		return fmt.Errorf("queue recall %s: partner: %w", kind, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO recall_messages (partner, kind, notice, body, queued) VALUES ($1, $2, $3, $4, $5)`,
		partner, kind, notice, body, now); err != nil {
		return fmt.Errorf("queue recall %s for %s: %w", kind, partner, err)
	}
	return nil
}

func (s *Store) appendEvents(ctx context.Context, tx pgx.Tx, evs []ledger.Event) error {
	if len(evs) == 0 {
		return nil
	}
	if _, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, evs...); err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

// RecallMessages returns the messages still to deliver, oldest first.
func (s *Store) RecallMessages(ctx context.Context, limit int) ([]mailbox.RecallMessage, error) {
	if limit < 0 {
		return nil, fmt.Errorf("recall messages: limit %d: %w", limit, tearline.ErrInvalid)
	}
	rows, err := s.pool.Query(ctx, `SELECT id, partner, kind, notice, body, attempts FROM recall_messages
		WHERE delivered = 0 AND NOT final ORDER BY id LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("recall messages: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (mailbox.RecallMessage, error) {
		var m mailbox.RecallMessage
		var attempts int32
		err := row.Scan(&m.ID, &m.Partner, &m.Kind, &m.Notice, &m.Body, &attempts)
		m.Attempts = int(attempts)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("recall messages: %w", err)
	}
	return out, nil
}

// RecallSent records a delivery attempt, and for a notice of this node's
// own, the target's state. The failure, often a partner's answer, is kept
// as valid UTF-8 without NUL characters.
func (s *Store) RecallSent(ctx context.Context, id int64, at time.Time, failure string, final bool) error {
	failure = strings.ToValidUTF8(strings.ReplaceAll(failure, "\x00", ""), "?")
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("recall message %d: %w", id, err)
	}
	defer tx.Rollback(ctx)
	delivered := int64(0)
	if failure == "" {
		delivered = at.UnixNano()
	}
	var partner, kind, notice string
	err = tx.QueryRow(ctx, `UPDATE recall_messages SET delivered = $1, final = $2, attempts = attempts + 1, error = $3
		WHERE id = $4 RETURNING partner, kind, notice`, delivered, final, failure, id).Scan(&partner, &kind, &notice)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("recall message %d: no such message: %w", id, tearline.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("recall message %d: %w", id, err)
	}
	if kind == mailbox.RecallNotice {
		if _, err := tx.Exec(ctx, `UPDATE recall_targets SET delivered = GREATEST(delivered, $1), error = $2
			WHERE notice = $3 AND partner = $4`, delivered, failure, notice, partner); err != nil {
			return fmt.Errorf("recall message %d: %w", id, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("recall message %d: commit: %w", id, err)
	}
	return nil
}

// RecordRecallAck keeps a holder's acknowledgement of one of this node's
// recalls.
func (s *Store) RecordRecallAck(ctx context.Context, notice, holder string, purged int, forwarded []string, record []byte, at time.Time, ev ledger.Event) error {
	for _, v := range append([]string{notice, holder}, forwarded...) {
		if err := checkText(v); err != nil {
			return fmt.Errorf("recall acknowledgement: %w", err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	defer tx.Rollback(ctx)
	// Only the originator's own recalls are followed here: one applied as
	// a holder, which queued an acknowledgement, is not this node's to
	// track.
	var originator string
	err = tx.QueryRow(ctx, `SELECT originator FROM recalls r WHERE notice = $1
		AND NOT EXISTS (SELECT FROM recall_messages m WHERE m.notice = r.notice AND m.kind = $2)`,
		notice, mailbox.RecallAck).Scan(&originator)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("recall acknowledgement of %s: %w", notice, mailbox.ErrUnknownRecall)
	}
	if err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	var again bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM recall_targets WHERE notice = $1 AND partner = $2 AND record = $3)`,
		notice, holder, record).Scan(&again); err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	if again {
		return nil // delivered twice: kept and logged the first time
	}
	if _, err := tx.Exec(ctx, `INSERT INTO recall_targets (notice, partner, acknowledged, purged, record) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (notice, partner) DO UPDATE SET acknowledged = excluded.acknowledged, purged = excluded.purged, record = excluded.record`,
		notice, holder, at.UnixNano(), purged, record); err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	for _, p := range forwarded {
		if p == originator {
			continue
		}
		if _, err := tx.Exec(ctx, `INSERT INTO recall_targets (notice, partner) VALUES ($1, $2) ON CONFLICT DO NOTHING`, notice, p); err != nil {
			return fmt.Errorf("recall acknowledgement: %w", err)
		}
	}
	if err := s.appendEvents(ctx, tx, []ledger.Event{ev}); err != nil {
		return fmt.Errorf("recall acknowledgement: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("recall acknowledgement: commit: %w", err)
	}
	return nil
}

// Recalls returns the recalls this node issued of object (every one when
// object is empty).
func (s *Store) Recalls(ctx context.Context, object string) ([]mailbox.RecallStatus, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.notice, r.originator, r.object_id, r.version, r.hash, r.reason, r.issued, r.record
		FROM recalls r WHERE ($1 = '' OR r.object_id = $1)
			AND NOT EXISTS (SELECT FROM recall_messages m WHERE m.notice = r.notice AND m.kind = $2)
		ORDER BY r.issued, r.notice`, object, mailbox.RecallAck)
	if err != nil {
		return nil, fmt.Errorf("recalls: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (mailbox.RecallStatus, error) {
		var st mailbox.RecallStatus
		var version, issued int64
		var hash []byte
		if err := row.Scan(&st.Notice, &st.Originator, &st.Object, &version, &hash, &st.Reason, &issued, &st.Record); err != nil {
			return st, err
		}
		if len(hash) != len(st.Hash) {
			return st, fmt.Errorf("recall %s has a corrupt hash of %d bytes", st.Notice, len(hash))
		}
		st.Hash = [32]byte(hash)
		st.Version, st.Issued = fromNanos(version), fromNanos(issued)
		return st, nil
	})
	if err != nil {
		return nil, fmt.Errorf("recalls: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	notices := make([]string, len(out))
	at := make(map[string]int, len(out))
	for i, st := range out {
		notices[i], at[st.Notice] = st.Notice, i
	}
	rows, err = s.pool.Query(ctx, `SELECT notice, partner, delivered, error, acknowledged, purged, record FROM recall_targets
		WHERE notice = ANY($1::text[]) ORDER BY notice, partner`, notices)
	if err != nil {
		return nil, fmt.Errorf("recalls: %w", err)
	}
	var (
		notice           string
		t                mailbox.RecallTarget
		delivered, acked int64
		purged           int32
	)
	if _, err := pgx.ForEachRow(rows, []any{&notice, &t.Partner, &delivered, &t.Error, &acked, &purged, &t.Record}, func() error {
		t.Delivered, t.Acknowledged, t.Purged = fromNanos(delivered), fromNanos(acked), int(purged)
		out[at[notice]].Targets = append(out[at[notice]].Targets, t)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("recalls: %w", err)
	}
	return out, nil
}

// Tombstones returns what is kept of object's purged versions.
func (s *Store) Tombstones(ctx context.Context, object string) ([]mailbox.Tombstone, error) {
	rows, err := s.pool.Query(ctx, `SELECT object_id, hash, version, recalled_by, reason, notice, recalled, purged
		FROM tombstones WHERE object_id = $1 ORDER BY version, hash`, object)
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (mailbox.Tombstone, error) {
		var t mailbox.Tombstone
		var hash []byte
		var version, recalled, purged int64
		if err := row.Scan(&t.Object, &hash, &version, &t.RecalledBy, &t.Reason, &t.Notice, &recalled, &purged); err != nil {
			return t, err
		}
		if len(hash) != len(t.Hash) {
			return t, fmt.Errorf("tombstone of %s has a corrupt hash of %d bytes", t.Object, len(hash))
		}
		t.Hash = [32]byte(hash)
		t.Version, t.Recalled, t.Purged = fromNanos(version), fromNanos(recalled), fromNanos(purged)
		return t, nil
	})
	if err != nil {
		return nil, fmt.Errorf("tombstones of %s: %w", object, err)
	}
	return out, nil
}
