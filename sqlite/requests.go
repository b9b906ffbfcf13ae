package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Consent requests, both boxes (see mailbox.RequestStore).

var _ mailbox.RequestStore = (*Store)(nil)

const requestColumns = `box, id, requester, originator, recipient, object_id, version, note, created, state, decided, reason, record, delivered, delivery_error`

func scanRequest(row interface{ Scan(...any) error }) (mailbox.Request, error) {
	var r mailbox.Request
	var box, state string
	var version, created, decided, delivered int64
	err := row.Scan(&box, &r.ID, &r.Requester, &r.Originator, &r.Recipient, &r.Object, &version, &r.Note, &created,
		&state, &decided, &r.Reason, &r.Record, &delivered, &r.DeliveryError)
	r.Box, r.State = mailbox.RequestBox(box), mailbox.RequestState(state)
	r.Version, r.Created, r.Decided, r.Delivered = fromNanos(version), fromNanos(created), fromNanos(decided), fromNanos(delivered)
	return r, err
}

// sameRequest reports whether two requests are the same request as asked.
func sameRequest(a, b mailbox.Request) bool {
	return a.Requester == b.Requester && a.Originator == b.Originator && a.Recipient == b.Recipient &&
		a.Object == b.Object && a.Version.Equal(b.Version) && a.Note == b.Note
}

// PutRequest keeps a new request with its audit entry.
func (s *Store) PutRequest(ctx context.Context, r mailbox.Request, ev ledger.Event) error {
	if s.readOnly {
		return errors.New("put request: the store is open read-only")
	}
	if (r.Box != mailbox.RequestInbox && r.Box != mailbox.RequestOutbox) || r.ID == "" || r.Object == "" {
		return fmt.Errorf("put request: box, id and object are required: %w", tearline.ErrInvalid)
	}
	if r.State == "" {
		r.State = mailbox.RequestPending
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("put request: %w", err)
	}
	defer done()
	old, err := scanRequest(tx.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = ? AND id = ?`, string(r.Box), r.ID))
	switch {
	case err == nil && sameRequest(old, r):
		return nil
	case err == nil:
		return fmt.Errorf("put request %s: %w", r.ID, mailbox.ErrRequestExists)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("put request %s: %w", r.ID, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO consent_requests (`+requestColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(r.Box), r.ID, r.Requester, r.Originator, r.Recipient, r.Object, nanos(r.Version), r.Note, nanos(r.Created),
		string(r.State), nanos(r.Decided), r.Reason, r.Record, nanos(r.Delivered), r.DeliveryError); err != nil {
		return fmt.Errorf("put request %s: %w", r.ID, err)
	}
	if _, err := ledger.New(s.ledgerIn(tx)).Append(ctx, ev); err != nil {
		return fmt.Errorf("put request %s: audit log: %w", r.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("put request %s: commit: %w", r.ID, err)
	}
	return nil
}

// GetRequest returns one request.
func (s *Store) GetRequest(ctx context.Context, box mailbox.RequestBox, id string) (mailbox.Request, error) {
	r, err := scanRequest(s.db.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = ? AND id = ?`, string(box), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("request %s: %w", id, tearline.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("request %s: %w", id, err)
	}
	return r, nil
}

// Requests returns the requests of a box, oldest first.
func (s *Store) Requests(ctx context.Context, box mailbox.RequestBox) ([]mailbox.Request, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = ? ORDER BY created, id`, string(box))
	if err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	defer rows.Close()
	var out []mailbox.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			return nil, fmt.Errorf("requests: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("requests: %w", err)
	}
	return out, nil
}

// DecideRequest records the answer to a pending request with its audit
// entries.
func (s *Store) DecideRequest(ctx context.Context, box mailbox.RequestBox, id string, a mailbox.Answer, evs []ledger.Event) error {
	if s.readOnly {
		return errors.New("decide request: the store is open read-only")
	}
	if a.State != mailbox.RequestApproved && a.State != mailbox.RequestDenied {
		return fmt.Errorf("decide request %s: state %q: %w", id, a.State, tearline.ErrInvalid)
	}
	tx, done, err := s.begin(ctx)
	if err != nil {
		return fmt.Errorf("decide request %s: %w", id, err)
	}
	defer done()
	old, err := scanRequest(tx.QueryRowContext(ctx, `SELECT `+requestColumns+` FROM consent_requests WHERE box = ? AND id = ?`, string(box), id))
	if errors.Is(err, sql.ErrNoRows) {
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
	if _, err := tx.ExecContext(ctx, `UPDATE consent_requests SET state = ?, decided = ?, reason = ?, record = ?
		WHERE box = ? AND id = ?`, string(a.State), nanos(a.At), a.Reason, a.Record, string(box), id); err != nil {
		return fmt.Errorf("decide request %s: %w", id, err)
	}
	if len(evs) > 0 {
		if _, err := ledger.New(s.ledgerIn(tx)).Append(ctx, evs...); err != nil {
			return fmt.Errorf("decide request %s: audit log: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("decide request %s: commit: %w", id, err)
	}
	return nil
}

// SetDelivered records an attempt to deliver a request or its answer.
func (s *Store) SetDelivered(ctx context.Context, box mailbox.RequestBox, id string, at time.Time, errMsg string) error {
	if s.readOnly {
		return errors.New("set delivered: the store is open read-only")
	}
	q := `UPDATE consent_requests SET delivered = ?, delivery_error = '' WHERE box = ? AND id = ?`
	args := []any{nanos(at), string(box), id}
	if errMsg != "" {
		q = `UPDATE consent_requests SET delivery_error = ? WHERE box = ? AND id = ?`
		args = []any{errMsg, string(box), id}
	}
	res, err := s.exec(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("set delivered %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set delivered %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("set delivered %s: %w", id, tearline.ErrNotFound)
	}
	return nil
}
