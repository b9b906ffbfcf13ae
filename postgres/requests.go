package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Consent requests, both boxes (see mailbox.RequestStore).

var _ mailbox.RequestStore = (*Store)(nil)

const requestColumns = `box, id, requester, originator, recipient, object_id, version, note, created, state, decided, reason, record, delivered, delivery_error`

func scanRequest(row pgx.Row) (mailbox.Request, error) {
	var r mailbox.Request
	var box, state string
	var version, created, decided, delivered int64
	err := row.Scan(&box, &r.ID, &r.Requester, &r.Originator, &r.Recipient, &r.Object, &version, &r.Note, &created,
		&state, &decided, &r.Reason, &r.Record, &delivered, &r.DeliveryError)
	r.Box, r.State = mailbox.RequestBox(box), mailbox.RequestState(state)
	r.Version, r.Created, r.Decided, r.Delivered = fromNanos(version), fromNanos(created), fromNanos(decided), fromNanos(delivered)
	return r, err
}

func sameRequest(a, b mailbox.Request) bool {
	return a.Requester == b.Requester && a.Originator == b.Originator && a.Recipient == b.Recipient &&
		a.Object == b.Object && a.Version.Equal(b.Version) && a.Note == b.Note
}

// PutRequest keeps a new request with its audit entry.
func (s *Store) PutRequest(ctx context.Context, r mailbox.Request, ev ledger.Event) error {
	if (r.Box != mailbox.RequestInbox && r.Box != mailbox.RequestOutbox) || r.ID == "" || r.Object == "" {
		return fmt.Errorf("put request: box, id and object are required: %w", tearline.ErrInvalid)
	}
	for _, v := range []string{r.ID, r.Requester, r.Originator, r.Recipient, r.Object, r.Note, r.Reason, r.DeliveryError} {
		if err := checkText(v); err != nil {
			return fmt.Errorf("put request: %w", err)
		}
	}
	if r.State == "" {
		r.State = mailbox.RequestPending
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("put request: %w", err)
	}
	defer tx.Rollback(ctx)
	tag, err := tx.Exec(ctx, `INSERT INTO consent_requests (`+requestColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (box, id) DO NOTHING`,
		string(r.Box), r.ID, r.Requester, r.Originator, r.Recipient, r.Object, nanos(r.Version), r.Note, nanos(r.Created),
		string(r.State), nanos(r.Decided), r.Reason, r.Record, nanos(r.Delivered), r.DeliveryError)
	if err != nil {
		return fmt.Errorf("put request %s: %w", r.ID, err)
	}
	if tag.RowsAffected() == 0 {
		old, err := scanRequest(tx.QueryRow(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = $1 AND id = $2`, string(r.Box), r.ID))
		if err != nil {
			return fmt.Errorf("put request %s: %w", r.ID, err)
		}
		if sameRequest(old, r) {
			return nil
		}
		return fmt.Errorf("put request %s: %w", r.ID, mailbox.ErrRequestExists)
	}
	if _, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, ev); err != nil {
		return fmt.Errorf("put request %s: audit log: %w", r.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("put request %s: commit: %w", r.ID, err)
	}
	return nil
}

// GetRequest returns one request.
func (s *Store) GetRequest(ctx context.Context, box mailbox.RequestBox, id string) (mailbox.Request, error) {
	if err := checkText(id); err != nil {
		return mailbox.Request{}, fmt.Errorf("request: %w", err)
	}
	r, err := scanRequest(s.pool.QueryRow(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = $1 AND id = $2`, string(box), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("request %s: %w", id, tearline.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("request %s: %w", id, err)
	}
	return r, nil
}

// Requests returns the requests of a box, oldest first.
func (s *Store) Requests(ctx context.Context, box mailbox.RequestBox) ([]mailbox.Request, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = $1 ORDER BY created, id`, string(box))
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mailbox.Request, error) { return scanRequest(r) })
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	return out, nil
}

// DecideRequest records the answer to a pending request with its audit
// entries.
func (s *Store) DecideRequest(ctx context.Context, box mailbox.RequestBox, id string, a mailbox.Answer, evs []ledger.Event) error {
	if a.State != mailbox.RequestApproved && a.State != mailbox.RequestDenied {
		return fmt.Errorf("decide request %s: state %q: %w", id, a.State, tearline.ErrInvalid)
	}
	for _, v := range []string{id, a.Reason} {
		if err := checkText(v); err != nil {
			return fmt.Errorf("decide request: %w", err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("decide request %s: %w", id, err)
	}
	defer tx.Rollback(ctx)
	old, err := scanRequest(tx.QueryRow(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = $1 AND id = $2 FOR UPDATE`, string(box), id))
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("decide request %s: %w", id, tearline.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("decide request %s: %w", id, err)
	}
	if old.State != mailbox.RequestPending {
		if old.State == a.State && bytes.Equal(old.Record, a.Record) {
			return nil
		}
		return fmt.Errorf("decide request %s (%s): %w", id, old.State, mailbox.ErrRequestDecided)
	}
	if _, err := tx.Exec(ctx, `UPDATE consent_requests SET state = $1, decided = $2, reason = $3, record = $4
		WHERE box = $5 AND id = $6`, string(a.State), nanos(a.At), a.Reason, a.Record, string(box), id); err != nil {
		return fmt.Errorf("decide request %s: %w", id, err)
	}
	if len(evs) > 0 {
		if _, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, evs...); err != nil {
			return fmt.Errorf("decide request %s: audit log: %w", id, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("decide request %s: commit: %w", id, err)
	}
	return nil
}

// SetDelivered records an attempt to deliver a request or its answer.
func (s *Store) SetDelivered(ctx context.Context, box mailbox.RequestBox, id string, at time.Time, errMsg string) error {
	if err := checkText(errMsg); err != nil {
		return fmt.Errorf("set delivered: %w", err)
	}
	q := `UPDATE consent_requests SET delivered = $1, delivery_error = '' WHERE box = $2 AND id = $3`
	args := []any{nanos(at), string(box), id}
	if errMsg != "" {
		q = `UPDATE consent_requests SET delivery_error = $1 WHERE box = $2 AND id = $3`
		args = []any{errMsg, string(box), id}
	}
	tag, err := s.pool.Exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("set delivered %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("set delivered %s: %w", id, tearline.ErrNotFound)
	}
	return nil
}
