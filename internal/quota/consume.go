package quota

import (
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Consume applies deltas to the project's in-use amounts inside the caller's transaction tx, refusing with an *OverQuotaError if a positive delta would exceed a limit; negative deltas release (never below zero).
//
// Consume must run in the transaction that creates or deletes the resources
// it accounts for, so both commit or roll back together; the usage rows it
// locks are held until that transaction ends, so keep it short. On any
// error nothing has been changed, but the caller should roll back.
func (e *Engine) Consume(tx *gorm.DB, projectID string, deltas map[string]int64) error {
	if err := checkProject(projectID); err != nil {
		return err
	}
	if _, ok := tx.Statement.ConnPool.(gorm.TxCommitter); !ok {
		// Outside a transaction the row locks would end with each
		// statement and two callers could both take the last unit.
		return errors.New("quota: Consume must be called inside a transaction")
	}
	deltas, resources := nonZero(deltas)
	if len(resources) == 0 {
		return nil
	}
	// A clean statement on the caller's connection, whatever conditions
	// the caller chained on tx.
	tx = tx.Session(&gorm.Session{NewDB: true})

	usages, err := lockUsages(tx, projectID, resources)
	if err != nil {
		return err
	}
	// Limits are read after the locks: SetLimit holds the same row while
	// changing one, so this sees the latest committed limit.
	limits, err := e.limitsFor(tx, projectID, resources)
	if err != nil {
		return err
	}
	if err := checkFits(usages, limits, deltas); err != nil {
		return err
	}
	for _, r := range resources {
		err := tx.Exec(`UPDATE quota_usages SET in_use = GREATEST(in_use + ?, 0), updated_at = now()
			WHERE project_id = ? AND resource = ?`, deltas[r], projectID, r).Error
		if err != nil {
			return fmt.Errorf("quota: consume %s %s: %w", projectID, r, err)
		}
	}
	return nil
}
