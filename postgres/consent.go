package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Consents this node was given to pass objects on (see
// mailbox.ConsentStore), and the reclassification of what they cover.

var _ mailbox.ConsentStore = (*Store)(nil)

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// PutConsent keeps a consent with its audit entry.
func (s *Store) PutConsent(ctx context.Context, c mailbox.Consent, ev ledger.Event) error {
	if c.Request == "" || c.Object == "" || len(c.Record) == 0 {
		return errors.New("put consent: request, object and record are required")
	}
	for _, v := range []string{c.Request, c.Originator, c.Holder, c.Recipient, c.Object} {
		if err := checkText(v); err != nil {
			return fmt.Errorf("put consent: %w", err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `INSERT INTO consents (request, originator, holder, recipient, object_id, version, expires, record)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (request) DO UPDATE SET originator = excluded.originator, holder = excluded.holder,
			recipient = excluded.recipient, object_id = excluded.object_id, version = excluded.version,
			expires = excluded.expires, record = excluded.record`,
		c.Request, c.Originator, c.Holder, c.Recipient, c.Object, nanos(c.Version), nanos(c.Expires), c.Record); err != nil {
		return fmt.Errorf("put consent: %w", err)
	}
	if _, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, ev); err != nil {
		return fmt.Errorf("put consent: audit log: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("put consent: commit: %w", err)
	}
	return nil
}

// ConsentsFor returns the consents kept for passing objectIDs to
// recipient (to anyone when it is empty).
func (s *Store) ConsentsFor(ctx context.Context, recipient string, objectIDs []string) ([]mailbox.Consent, error) {
	if len(objectIDs) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT request, originator, holder, recipient, object_id, version, expires, record
		FROM consents WHERE object_id = ANY($1) AND ($2 = '' OR recipient = $2) ORDER BY object_id, request`, objectIDs, recipient)
	if err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (mailbox.Consent, error) {
		var c mailbox.Consent
		var version, expires int64
		err := r.Scan(&c.Request, &c.Originator, &c.Holder, &c.Recipient, &c.Object, &version, &expires, &c.Record)
		c.Version, c.Expires = fromNanos(version), fromNanos(expires)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("consents: %w", err)
	}
	return out, nil
}

// SetClass gives versions of an object a new release class, interned like
// those of PutObjects, and undecided until the release sets are updated.
func (s *Store) SetClass(ctx context.Context, collection, id string, version time.Time, class []byte) (int, error) {
	if len(class) == 0 {
		return 0, errors.New("set class: no class")
	}
	num, err := collectionNum(ctx, s.pool, collection)
	if err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	defer tx.Rollback(ctx)
	key := sha256.Sum256(class)
	var classID int64
	if err := tx.QueryRow(ctx, `INSERT INTO release_classes (key, subject) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET key = excluded.key RETURNING id`, key[:], class).Scan(&classID); err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	q := `UPDATE objects SET class = $1 WHERE collection = $2 AND id = $3`
	args := []any{classID, num, id}
	if !version.IsZero() {
		q += ` AND version = $4`
		args = append(args, version.UnixNano())
	}
	tag, err := tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("set class of %s: %w", id, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("set class of %s: commit: %w", id, err)
	}
	s.rememberClasses(map[[32]byte]int64{key: classID})
	return int(tag.RowsAffected()), nil
}
