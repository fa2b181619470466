package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

var (
	// ErrNotFound means the provider, inventory or consumer does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a name is taken, or something still holds
	// allocations against what was to be deleted.
	ErrConflict = errors.New("conflict")
	// ErrInvalid means a malformed uuid, resource class, trait or amount.
	ErrInvalid = errors.New("invalid")
	// ErrCapacity is matched (errors.Is) by every *CapacityError.
	ErrCapacity = errors.New("insufficient capacity")
)

// CapacityError reports the first resource class, in sorted order, that a
// claim could not take from a provider.
type CapacityError struct {
	ProviderID    string
	ProviderName  string
	ResourceClass string
	Requested     int64
	// Used is what other consumers hold of the class on this provider (the
	// claiming consumer's own allocation there is being replaced).
	Used int64
	// Capacity is floor((Total - Reserved) * AllocationRatio); 0 when the
	// provider has no inventory of the class.
	Capacity        int64
	Total           int64
	Reserved        int64
	AllocationRatio float64
	// Reason is set when the amount breaks a unit constraint
	// ("max_unit 8") or the class has no inventory, instead of not fitting.
	Reason string
}

// Error says which class did not fit on which provider, with the numbers.
func (e *CapacityError) Error() string {
	where := e.ProviderName
	if where == "" {
		where = e.ProviderID
	} else {
		where += " (" + e.ProviderID + ")"
	}
	if e.Reason != "" {
		return fmt.Sprintf("placement: cannot allocate %d %s on provider %s: %s", e.Requested, e.ResourceClass, where, e.Reason)
	}
	return fmt.Sprintf("placement: not enough %s on provider %s: requested %d, used %d of capacity %d (total %d, reserved %d, allocation_ratio %g)",
		e.ResourceClass, where, e.Requested, e.Used, e.Capacity, e.Total, e.Reserved, e.AllocationRatio)
}

// Is makes errors.Is(err, ErrCapacity) true.
func (e *CapacityError) Is(target error) bool { return target == ErrCapacity }

// Standard resource classes; any other class must start with CUSTOM_.
const (
	VCPU     = "VCPU"
	MemoryMB = "MEMORY_MB"
	DiskGB   = "DISK_GB"
)

// standardClasses are os-resource-classes' standard classes.
var standardClasses = []string{
	"VCPU", "MEMORY_MB", "DISK_GB", "PCI_DEVICE", "SRIOV_NET_VF", "NUMA_SOCKET", "NUMA_CORE",
	"NUMA_THREAD", "NUMA_MEMORY_MB", "IPV4_ADDRESS", "VGPU", "VGPU_DISPLAY_HEAD",
	"NET_BW_EGR_KILOBIT_PER_SEC", "NET_BW_IGR_KILOBIT_PER_SEC", "PCPU", "MEM_ENCRYPTION_CONTEXT",
	"FPGA", "PGPU", "NET_PACKET_RATE_KILOPACKET_PER_SEC", "NET_PACKET_RATE_EGR_KILOPACKET_PER_SEC",
	"NET_PACKET_RATE_IGR_KILOPACKET_PER_SEC",
}

// StandardClasses returns the standard resource classes.
func StandardClasses() []string { return slices.Clone(standardClasses) }

var classPattern = regexp.MustCompile(`^[A-Z0-9_]{1,255}$`)

// ValidClass reports whether rc is a standard class or a CUSTOM_ one.
func ValidClass(rc string) bool {
	if !classPattern.MatchString(rc) {
		return false
	}
	return slices.Contains(standardClasses, rc) || (strings.HasPrefix(rc, "CUSTOM_") && len(rc) > len("CUSTOM_"))
}

// MaxUnit is Placement's default max_unit.
const MaxUnit = 2147483647

// Store is placement's data access; its methods are safe for concurrent use.
type Store struct {
	db *gorm.DB
}

// New returns a Store on db, whose placement migrations must be applied.
func New(db *gorm.DB) *Store { return &Store{db: db} }

// Tx runs fn in a transaction with a Store bound to it, committing if fn
// returns nil and rolling back otherwise. Tx on a transaction's Store nests
// with a savepoint.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(&Store{db: tx})
	})
}

func (s *Store) q(ctx context.Context) *gorm.DB { return s.db.WithContext(ctx) }

// NewUUID returns a new random uuid in its canonical dashed form, as
// Placement uses for providers and consumers.
func NewUUID() string { return uuid.NewString() }

// now is the database's clock precision: timestamptz keeps microseconds.
func now() time.Time { return time.Now().UTC().Round(time.Microsecond) }

// forUpdate locks the selected rows until the transaction ends.
func forUpdate(db *gorm.DB) *gorm.DB { return db.Clauses(clause.Locking{Strength: "UPDATE"}) }

// checkUUID validates a uuid and returns its canonical form.
func checkUUID(what, id string) (string, error) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) < 32 {
		return "", fmt.Errorf("%s %q is not a uuid: %w", what, id, ErrInvalid)
	}
	return u.String(), nil
}

// wrap translates a database error about what into the store's sentinels.
func wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey), errors.As(err, &pgErr) && pgErr.Code == "23505":
		return fmt.Errorf("%s: already exists: %w", what, ErrConflict)
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		return fmt.Errorf("%s: still has allocations: %w", what, ErrConflict)
	case errors.As(err, &pgErr) && (pgErr.Code == "23514" || pgErr.Code == "22P02"):
		return fmt.Errorf("%s: violates %s: %w", what, pgErr.ConstraintName, ErrInvalid)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// inTx fails unless the store is bound to a transaction: row locks taken
// outside one would end with each statement.
func (s *Store) inTx() bool {
	_, ok := s.db.Statement.ConnPool.(gorm.TxCommitter)
	return ok
}

// run runs fn in a transaction, or directly if the store is already in one.
func (s *Store) run(ctx context.Context, fn func(tx *Store) error) error {
	if s.inTx() {
		return fn(s)
	}
	return s.Tx(ctx, fn)
}
