package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
)

// addReceipt creates the receipt of a batch with this node's side, in the
// transaction that appended its entry; a receipt that exists is kept.
func addReceipt(ctx context.Context, tx *sql.Tx, partner string, role mailbox.Role, through, index uint64, at time.Time) error {
	if index > math.MaxInt64 {
		return fmt.Errorf("receipt of batch %d: index %d out of range", through, index)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO receipts (partner, role, through, own_index, recorded) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, partner, string(role), int64(through), int64(index), at.UnixMicro()); err != nil {
		return fmt.Errorf("receipt of batch %d: %w", through, err)
	}
	return nil
}

const receiptColumns = `partner, role, through, own_index, recorded, partner_index, partner_entry, checkpoint, proof, verified, failure`

func scanReceipt(row interface{ Scan(...any) error }) (mailbox.BatchReceipt, error) {
	var (
		r                 mailbox.BatchReceipt
		role              string
		through, own, rec int64
		pIndex, verified  sql.NullInt64
		entry, cp, proof  []byte
		failure           sql.NullString
	)
	if err := row.Scan(&r.Partner, &role, &through, &own, &rec, &pIndex, &entry, &cp, &proof, &verified, &failure); err != nil {
		return r, err
	}
	r.Role, r.Through, r.Index, r.Recorded = mailbox.Role(role), uint64(through), uint64(own), microTime(rec)
	if verified.Valid {
		r.PartnerIndex, r.PartnerEntry, r.Checkpoint, r.Verified = uint64(pIndex.Int64), entry, cp, microTime(verified.Int64)
		if len(proof)%32 != 0 {
			return r, fmt.Errorf("receipt of batch %d with %s: stored proof of %d bytes is not a list of hashes", through, r.Partner, len(proof))
		}
		for i := 0; i < len(proof); i += 32 {
			r.Proof = append(r.Proof, proof[i:i+32])
		}
	}
	r.Failure = failure.String
	return r, nil
}

// Receipt returns the receipt of the batch through with partner in which
// this node had role, or an error wrapping tearline.ErrNotFound.
func (s *Store) Receipt(ctx context.Context, partner string, role mailbox.Role, through uint64) (mailbox.BatchReceipt, error) {
	if through > math.MaxInt64 {
		return mailbox.BatchReceipt{}, fmt.Errorf("receipt of batch %d with %s: %w", through, partner, tearline.ErrNotFound)
	}
	r, err := scanReceipt(s.db.QueryRowContext(ctx, `SELECT `+receiptColumns+` FROM receipts WHERE partner = ? AND role = ? AND through = ?`,
		partner, string(role), int64(through)))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("receipt of batch %d with %s as %s: %w", through, partner, role, tearline.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("receipt of batch %d with %s: %w", through, partner, err)
	}
	return r, nil
}

// Receipts returns the receipts q selects, by partner, role and batch.
func (s *Store) Receipts(ctx context.Context, q mailbox.ReceiptQuery) ([]mailbox.BatchReceipt, error) {
	var (
		where []string
		args  []any
	)
	if q.From > math.MaxInt64 {
		return nil, nil
	}
	if q.Partner != "" {
		where, args = append(where, `partner = ?`), append(args, q.Partner)
	}
	if q.Role != "" {
		where, args = append(where, `role = ?`), append(args, string(q.Role))
	}
	if q.From > 0 {
		where, args = append(where, `through >= ?`), append(args, int64(q.From))
	}
	if q.Pending {
		where = append(where, `verified IS NULL AND failure IS NULL`)
	}
	query := `SELECT ` + receiptColumns + ` FROM receipts`
	if len(where) > 0 {
		query += ` WHERE ` + strings.Join(where, ` AND `)
	}
	query += ` ORDER BY partner, role, through`
	if q.Limit > 0 {
		query += fmt.Sprintf(` LIMIT %d`, q.Limit)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("receipts: %w", err)
	}
	defer rows.Close()
	var out []mailbox.BatchReceipt
	for rows.Next() {
		r, err := scanReceipt(rows)
		if err != nil {
			return nil, fmt.Errorf("receipts: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("receipts: %w", err)
	}
	return out, nil
}

// SetReceipt records the partner's side of a pending receipt (Verified
// set), or why it failed (Failure set). A receipt that is not pending is
// not changed again: the result wraps tearline.ErrNotFound.
func (s *Store) SetReceipt(ctx context.Context, r *mailbox.BatchReceipt) error {
	if err := checkReceiptUpdate(r); err != nil {
		return err
	}
	var (
		res sql.Result
		err error
	)
	if r.Failure != "" {
		res, err = s.exec(ctx, `UPDATE receipts SET failure = ? WHERE partner = ? AND role = ? AND through = ?
			AND verified IS NULL AND failure IS NULL`, r.Failure, r.Partner, string(r.Role), int64(r.Through))
	} else {
		res, err = s.exec(ctx, `UPDATE receipts SET partner_index = ?, partner_entry = ?, checkpoint = ?, proof = ?, verified = ?
			WHERE partner = ? AND role = ? AND through = ? AND verified IS NULL AND failure IS NULL`,
			int64(r.PartnerIndex), r.PartnerEntry, r.Checkpoint, joinProof(r.Proof), r.Verified.UnixMicro(),
			r.Partner, string(r.Role), int64(r.Through))
	}
	if err != nil {
		return fmt.Errorf("set receipt of batch %d with %s: %w", r.Through, r.Partner, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set receipt of batch %d with %s: %w", r.Through, r.Partner, err)
	} else if n == 0 {
		return fmt.Errorf("set receipt of batch %d with %s as %s: no pending receipt (already verified or failed, or never recorded): %w", r.Through, r.Partner, r.Role, tearline.ErrNotFound)
	}
	return nil
}

// checkReceiptUpdate checks what SetReceipt is given.
func checkReceiptUpdate(r *mailbox.BatchReceipt) error {
	switch {
	case !r.Role.Valid():
		return fmt.Errorf("set receipt of batch %d with %s: role %q: %w", r.Through, r.Partner, r.Role, tearline.ErrInvalid)
	case r.Through > math.MaxInt64 || r.PartnerIndex > math.MaxInt64:
		return fmt.Errorf("set receipt of batch %d with %s: out of range: %w", r.Through, r.Partner, tearline.ErrInvalid)
	case (r.Failure == "") == r.Verified.IsZero():
		return fmt.Errorf("set receipt of batch %d with %s: give either the verified partner side or the failure: %w", r.Through, r.Partner, tearline.ErrInvalid)
	case r.Failure == "" && (len(r.PartnerEntry) == 0 || len(r.Checkpoint) == 0):
		return fmt.Errorf("set receipt of batch %d with %s: the partner's entry and checkpoint are required: %w", r.Through, r.Partner, tearline.ErrInvalid)
	}
	for i, h := range r.Proof {
		if len(h) != 32 {
			return fmt.Errorf("set receipt of batch %d with %s: proof hash %d has %d bytes: %w", r.Through, r.Partner, i, len(h), tearline.ErrInvalid)
		}
	}
	return nil
}

func joinProof(p [][]byte) []byte {
	out := make([]byte, 0, 32*len(p))
	for _, h := range p {
		out = append(out, h...)
	}
	return out
}
