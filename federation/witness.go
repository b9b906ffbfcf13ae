package federation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/tearline/tearline/ledger"
)

// Witnessing through a hub. A node witnesses each partner's audit log: it
// fetches the partner's newest signed checkpoint with the proof that it
// extends the last one witnessed, cosigns it and gives the cosignature
// back (tearline serve, over the partner's /ledger endpoints). A partner
// reached only through a hub is asked the same as hub messages, sealed to
// it and signed end to end: a checkpoint question (CheckpointRequest) that
// the partner answers, through the hub, with its newest checkpoint and the
// consistency proof (CheckpointAnswer); the node checks it and cosigns it
// (Config.Witness), and leaves the cosignature at the hub for the partner,
// which checks it and keeps it as it would over a direct link. The hub
// reads none of it and cannot alter any of it unseen; a split view is
// caught as on a direct link.

// Kinds of hub message of witnessing, and the paths of their handlers
// (reached only through a hub: a direct link uses the /ledger endpoints).
const (
	kindCheckpoint  = "checkpoint"
	kindCosignature = "cosignature"

	pathRelayedCheckpoint  = "/federation/v1/relayed/checkpoint"
	pathRelayedCosignature = "/federation/v1/relayed/cosignature"

	// maxCheckpointRequest bounds a CheckpointRequest; maxCheckpointAnswer
	// a CheckpointAnswer (a checkpoint with its cosignatures and 64
	// hashes); maxCosigned a cosigned checkpoint.
	maxCheckpointRequest = 256
	maxCheckpointAnswer  = 64 << 10
	maxCosigned          = 64 << 10
)

// Witnessing is what a node's witness does with what comes through a hub;
// tearline serve implements it over the state of its witness.
type Witnessing interface {
	// Witness checks partner's signed checkpoint against the last
	// checkpoint of it witnessed, whose size MUST be from (else it returns
	// an error wrapping ErrStaleCheckpoint), with the consistency proof
	// between the two, keeps it as the last witnessed and returns it
	// cosigned. A split view MUST be raised and its evidence kept.
	Witness(ctx context.Context, partner string, from uint64, signed []byte, proof [][]byte) ([]byte, error)
	// Cosigned keeps partner's cosignature of one of this node's
	// checkpoints; an error wrapping ErrBadCosignature refuses one that is
	// not a checkpoint of this node cosigned by partner.
	Cosigned(ctx context.Context, partner string, cosigned []byte) error
}

var (
	// ErrStaleCheckpoint: the answer is to an earlier question, since
	// which the witness saw a newer checkpoint; it is asked again.
	ErrStaleCheckpoint = errors.New("the answer is to an earlier question")
	// ErrBadCosignature: not a checkpoint of this node cosigned by the
	// partner.
	ErrBadCosignature = errors.New("not a checkpoint of this node cosigned by the partner")
)

// CheckpointRequest asks a partner for its newest signed checkpoint and
// the consistency proof from From, the size of the last checkpoint of it
// witnessed (0 for none).
type CheckpointRequest struct {
	From uint64 `json:"from"`
}

// Marshal encodes the request; the same request always encodes the same.
func (q CheckpointRequest) Marshal() ([]byte, error) { return json.Marshal(q) }

// ParseCheckpointRequest reads a CheckpointRequest.
func ParseCheckpointRequest(data []byte) (CheckpointRequest, error) {
	var q CheckpointRequest
	if len(data) > maxCheckpointRequest {
		return q, protocolError("checkpoint request of %d bytes; the limit is %d", len(data), maxCheckpointRequest)
	}
	if err := decodeStrict(data, &q); err != nil {
		return q, protocolError("checkpoint request: %v", err)
	}
	if q.From > 1<<63-1 {
		return q, protocolError("checkpoint request: from %d is past any log", q.From)
	}
	return q, nil
}

// CheckpointAnswer is a partner's answer to a CheckpointRequest: its
// newest signed checkpoint and, when From is smaller and not 0, the
// consistency proof from From to it, hex hashes.
type CheckpointAnswer struct {
	From       uint64   `json:"from"`
	Checkpoint string   `json:"checkpoint"`
	Proof      []string `json:"proof"`
}

// ParseCheckpointAnswer reads a CheckpointAnswer and its proof hashes. It
// checks the form only; the witness checks what it proves.
func ParseCheckpointAnswer(data []byte) (CheckpointAnswer, [][]byte, error) {
	var a CheckpointAnswer
	if len(data) > maxCheckpointAnswer {
		return a, nil, protocolError("checkpoint answer of %d bytes; the limit is %d", len(data), maxCheckpointAnswer)
	}
	if err := decodeStrict(data, &a); err != nil {
		return a, nil, protocolError("checkpoint answer: %v", err)
	}
	if a.Checkpoint == "" {
		return a, nil, protocolError("checkpoint answer: the checkpoint is required")
	}
	proof, err := ParseHexHashes(a.Proof)
	if err != nil {
		return a, nil, protocolError("checkpoint answer: %v", err)
	}
	return a, proof, nil
}

// AskCheckpoint leaves at the hub partner code is reached through the
// question for its newest checkpoint and the proof that it extends the
// one of size from; the answer is witnessed (Config.Witness) when it comes
// back. It reports false, doing nothing, when code is not reached through
// a hub.
func (n *Node) AskCheckpoint(ctx context.Context, code string, from uint64) (bool, error) {
	l := n.link(code)
	if l == nil || l.hub == "" {
		return false, nil
	}
	record, err := CheckpointRequest{From: from}.Marshal()
	if err != nil {
		return true, err
	}
	m, err := n.sealMessage(code, kindCheckpoint, messageID(kindCheckpoint, record), record)
	if err != nil {
		return true, err
	}
	return true, n.postMessage(ctx, l.client, l.endpoint, l.hub, m)
}

// serveRelayedCheckpoint answers a CheckpointRequest taken from a hub.
func (n *Node) serveRelayedCheckpoint(w http.ResponseWriter, r *http.Request) {
	code, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCheckpointRequest+1))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	q, err := ParseCheckpointRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	signed, cp, err := n.latestCheckpoint(r.Context())
	if err != nil {
		n.log.Error("checkpoint for a witness", "partner", code, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if signed == nil {
		http.Error(w, "no checkpoint yet", http.StatusNotFound)
		return
	}
	ans := CheckpointAnswer{From: q.From, Checkpoint: string(signed), Proof: []string{}}
	if q.From > 0 && q.From < cp.Size {
		// A witness that saw a larger size gets none: it sees the log
		// went backwards.
		proof, err := ledger.New(n.cfg.Ledger).ConsistencyProof(r.Context(), q.From, cp.Size)
		if err != nil {
			n.log.Error("consistency proof for a witness", "partner", code, "from", q.From, "to", cp.Size, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		ans.Proof = HexHashes(proof)
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(ans); err != nil {
		n.log.Warn("checkpoint for a witness: write", "partner", code, "err", err)
	}
}

// serveRelayedCosignature keeps a partner's cosignature taken from a hub.
func (n *Node) serveRelayedCosignature(w http.ResponseWriter, r *http.Request) {
	code, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	if n.cfg.Witness == nil {
		http.Error(w, n.self+" keeps no cosignatures", http.StatusNotImplemented)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCosigned+1))
	if err != nil || len(body) > maxCosigned {
		http.Error(w, fmt.Sprintf("unreadable body, or over %d bytes", maxCosigned), http.StatusBadRequest)
		return
	}
	err = n.cfg.Witness.Cosigned(r.Context(), code, body)
	switch {
	case errors.Is(err, ErrBadCosignature):
		http.Error(w, err.Error(), http.StatusBadRequest)
	case err != nil:
		n.log.Error("keep a cosignature", "partner", code, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// checkpointAnswered witnesses partner from's answer, taken from hub h, to
// a checkpoint question, and leaves the cosignature at the hub for it. A
// failure is logged (a split view is raised by the witness) and the
// answer dropped: the question is asked again next round.
func (n *Node) checkpointAnswered(ctx context.Context, h hubRoute, from string, a relayAnswer) error {
	if a.Status != http.StatusOK {
		n.log.Warn("witness: partner's answer through its hub", "partner", from, "hub", h.code, "status", a.Status, "answer", a.Text)
		return nil
	}
	if n.cfg.Witness == nil {
		return nil
	}
	ans, proof, err := ParseCheckpointAnswer(a.Body)
	if err != nil {
		n.log.Error("witness: partner's answer through its hub", "partner", from, "hub", h.code, "err", err)
		return nil
	}
	cosigned, err := n.cfg.Witness.Witness(ctx, from, ans.From, []byte(ans.Checkpoint), proof)
	if errors.Is(err, ErrStaleCheckpoint) {
		n.log.Debug("witness: an answer to an earlier question", "partner", from, "from", ans.From)
		return nil
	}
	if err != nil {
		n.log.Error("witness", "partner", from, "hub", h.code, "err", err)
		return nil
	}
	m, err := n.sealMessage(from, kindCosignature, messageID(kindCosignature, cosigned), cosigned)
	if err != nil {
		return err
	}
	if err := n.postMessage(ctx, h.client, h.endpoint, h.code, m); err != nil {
		// Cosigned and kept here; given back after the next question.
		n.log.Warn("witness: return the cosignature", "partner", from, "hub", h.code, "err", err)
	}
	return nil
}
