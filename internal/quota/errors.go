package quota

import (
	"errors"
	"fmt"
)

var (
	// ErrOverQuota is matched (errors.Is) by every *OverQuotaError.
	ErrOverQuota = errors.New("quota exceeded")
	// ErrBelowUsage means a new limit is below what the project already uses and reserves, and force was not given.
	ErrBelowUsage = errors.New("quota limit below current usage")
	// ErrUnknownResource means no service registered a default for the resource and the project has no override for it.
	ErrUnknownResource = errors.New("unknown quota resource")
	// ErrInvalidLimit means a limit below -1 (Unlimited).
	ErrInvalidLimit = errors.New("invalid quota limit")
	// ErrReservationNotFound means the reservation is unknown, already committed or rolled back, or (for Commit) expired.
	ErrReservationNotFound = errors.New("quota reservation not found")
)

// OverQuotaError reports the first resource, in sorted order, whose limit a request would exceed.
type OverQuotaError struct {
	Resource  string // the namespaced resource, e.g. "compute.cores"
	Limit     int64  // the project's limit for it
	InUse     int64  // what the project has in use
	Reserved  int64  // what open reservations of the project hold
	Requested int64  // the amount asked for
}

// Error says which resource is over quota and by how much.
func (e *OverQuotaError) Error() string {
	return fmt.Sprintf("quota exceeded for %s: requested %d, in use %d, reserved %d, limit %d",
		e.Resource, e.Requested, e.InUse, e.Reserved, e.Limit)
}

// Is makes errors.Is(err, ErrOverQuota) true.
func (e *OverQuotaError) Is(target error) bool { return target == ErrOverQuota }
