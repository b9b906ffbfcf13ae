package taxii

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/tearline/tearline"
)

// Status is the TAXII 2.1 status resource (section 4.3.1) of one POST, plus
// who may read it.
type Status struct {
	ID               string         `json:"id"`
	Status           string         `json:"status"` // "complete" or "pending"
	RequestTimestamp time.Time      `json:"-"`
	TotalCount       int            `json:"total_count"`
	SuccessCount     int            `json:"success_count"`
	Successes        []StatusDetail `json:"successes,omitempty"`
	FailureCount     int            `json:"failure_count"`
	Failures         []StatusDetail `json:"failures,omitempty"`
	PendingCount     int            `json:"pending_count"`
	Pendings         []StatusDetail `json:"pendings,omitempty"`

	// Owner posted the envelope; only Owner may read the status.
	Owner Principal `json:"-"`
	// Collection is the id of the collection written to.
	Collection string `json:"-"`
}

// StatusDetail is the outcome for one object.
type StatusDetail struct {
	ID      string `json:"id"`
	Version string `json:"version"`
	Message string `json:"message,omitempty"`
}

// StatusStore keeps status resources for later GETs. A database-backed
// implementation lets replicas share them.
type StatusStore interface {
	// Put stores s, replacing any status with the same ID.
	Put(ctx context.Context, s Status) error
	// Get returns the status with this ID, or an error wrapping
	// tearline.ErrNotFound once it has expired or never existed.
	Get(ctx context.Context, id string) (Status, error)
}

// MemoryStatusStore keeps statuses in memory for a fixed time. It suits a
// single replica; statuses are lost on restart.
type MemoryStatusStore struct {
	ttl time.Duration
	now func() time.Time

	mu        sync.Mutex
	statuses  map[string]memStatus
	lastSweep time.Time
}

type memStatus struct {
	s       Status
	expires time.Time
}

var _ StatusStore = (*MemoryStatusStore)(nil)

// NewMemoryStatusStore returns a store keeping each status for ttl after it
// is put (24 hours when ttl is 0). now is its clock (time.Now when nil).
func NewMemoryStatusStore(ttl time.Duration, now func() time.Time) *MemoryStatusStore {
	if ttl <= 0 {
		ttl = DefaultStatusTTL
	}
	if now == nil {
		now = time.Now
	}
	return &MemoryStatusStore{ttl: ttl, now: now, statuses: map[string]memStatus{}}
}

// Put implements StatusStore; it also drops expired statuses, at most
// once a minute.
func (m *MemoryStatusStore) Put(_ context.Context, s Status) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastSweep) >= time.Minute {
		for id, e := range m.statuses {
			if !now.Before(e.expires) {
				delete(m.statuses, id)
			}
		}
		m.lastSweep = now
	}
	m.statuses[s.ID] = memStatus{s: s, expires: now.Add(m.ttl)}
	return nil
}

// Get implements StatusStore.
func (m *MemoryStatusStore) Get(_ context.Context, id string) (Status, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.statuses[id]
	if !ok || !m.now().Before(e.expires) {
		return Status{}, fmt.Errorf("status %s: %w", id, tearline.ErrNotFound)
	}
	return e.s, nil
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// StatusKV is the storage a StatusStore can be built on: opaque bodies
// kept by id until they expire. The node's stores implement it.
type StatusKV interface {
	PutStatus(ctx context.Context, id string, body []byte, expires time.Time) error
	// Status returns a body that has not expired, or an error wrapping
	// tearline.ErrNotFound.
	Status(ctx context.Context, id string) ([]byte, error)
}

// KVStatusStore keeps statuses in a StatusKV, so that they survive
// restarts and replicas share them.
type KVStatusStore struct {
	kv  StatusKV
	ttl time.Duration
	now func() time.Time
}

var _ StatusStore = (*KVStatusStore)(nil)

// NewKVStatusStore keeps each status for ttl (24 hours when 0) in kv.
func NewKVStatusStore(kv StatusKV, ttl time.Duration, now func() time.Time) *KVStatusStore {
	if ttl <= 0 {
		ttl = DefaultStatusTTL
	}
	if now == nil {
		now = time.Now
	}
	return &KVStatusStore{kv: kv, ttl: ttl, now: now}
}

// storedStatus is a Status with the fields its JSON form leaves out.
type storedStatus struct {
	Status
	Requested  time.Time `json:"requested"`
	OwnerID    string    `json:"owner_id"`
	OwnerKind  Kind      `json:"owner_kind"`
	Collection string    `json:"collection"`
}

// Stored bodies are the JSON of a storedStatus, compressed: a status
// lists every object of its POST, some 100 KB for 1,000 objects, which the
// node's one writer would otherwise write out whole. The first byte tells
// the form: '{' plain JSON (as first stored), deflatedStatus DEFLATE.
const deflatedStatus = 1

// maxStatusBody bounds a stored status once inflated.
const maxStatusBody = 256 << 20

var statusDeflaters = sync.Pool{New: func() any {
	w, err := flate.NewWriter(nil, flate.BestSpeed)
	if err != nil {
		panic(err) // only for a level out of range
	}
	return w
}}

// Put implements StatusStore.
func (k *KVStatusStore) Put(ctx context.Context, s Status) error {
	plain, err := json.Marshal(storedStatus{Status: s, Requested: s.RequestTimestamp, OwnerID: s.Owner.ID, OwnerKind: s.Owner.Kind, Collection: s.Collection})
	if err != nil {
		return fmt.Errorf("status %s: %w", s.ID, err)
	}
	body := bytes.NewBuffer(make([]byte, 0, 1+len(plain)/2))
	body.WriteByte(deflatedStatus)
	w := statusDeflaters.Get().(*flate.Writer)
	defer statusDeflaters.Put(w)
	w.Reset(body)
	if _, err := w.Write(plain); err != nil {
		return fmt.Errorf("status %s: compress: %w", s.ID, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("status %s: compress: %w", s.ID, err)
	}
	return k.kv.PutStatus(ctx, s.ID, body.Bytes(), k.now().Add(k.ttl))
}

// Get implements StatusStore.
func (k *KVStatusStore) Get(ctx context.Context, id string) (Status, error) {
	body, err := k.kv.Status(ctx, id)
	if err != nil {
		return Status{}, err
	}
	if len(body) > 0 && body[0] == deflatedStatus {
		r := flate.NewReader(bytes.NewReader(body[1:]))
		body, err = io.ReadAll(io.LimitReader(r, maxStatusBody+1))
		r.Close()
		if err == nil && len(body) > maxStatusBody {
			err = fmt.Errorf("more than %d bytes once inflated", maxStatusBody)
		}
		if err != nil {
			return Status{}, fmt.Errorf("status %s: stored body: %w", id, err)
		}
	}
	var st storedStatus
	if err := json.Unmarshal(body, &st); err != nil {
		return Status{}, fmt.Errorf("status %s: stored body: %w", id, err)
	}
	s := st.Status
	s.RequestTimestamp, s.Owner, s.Collection = st.Requested, Principal{ID: st.OwnerID, Kind: st.OwnerKind}, st.Collection
	return s, nil
}
