// Package quota owns per-project quotas: limits (defaults plus per-project
// overrides) and race-free usage accounting with reservations inside the
// caller's database transaction. Compute, network, volume, image and FaaS use
// it; it must not know what the resources are.
//
// Resources are namespaced strings ("compute.instances", "compute.cores",
// "network.ports", "volume.gigabytes") that each service declares with its
// default limits through New or Register. An admin overrides a limit per
// project with SetLimit; -1 (Unlimited) means no limit.
//
// Short operations call Consume inside the transaction that creates (or
// deletes) the resource's own row, so the quota and the resource commit or
// roll back together:
//
//	err := db.Transaction(func(tx *gorm.DB) error {
//		if err := tx.Create(&server).Error; err != nil {
//			return err
//		}
//		return quotas.Consume(tx, projectID, map[string]int64{
//			"compute.instances": 1, "compute.cores": 4,
//		})
//	})
//
// Long operations Reserve first, in a transaction of their own, and later
// Commit or Rollback; reservations not settled within their TTL are released
// by ExpireReservations, which the owner of the Engine runs on a timer.
//
// Every check locks the project's quota_usages rows (SELECT ... FOR UPDATE),
// one resource at a time in sorted order, so concurrent callers serialise per
// project and resource and never deadlock on each other. The callers'
// transactions are expected to run at PostgreSQL's default READ COMMITTED
// isolation; under REPEATABLE READ or SERIALIZABLE a concurrent change makes
// the lock fail with a serialisation error the caller must retry.
package quota
