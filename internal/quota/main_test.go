package quota_test

import (
	"context"
	"os"
	"testing"

	"gorm.io/gorm"

	"github.com/kumo-cloud/kumo/internal/quota"
	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// defaults are the limits every test engine starts with.
var defaults = quota.Defaults{
	"compute.instances": 10,
	"compute.cores":     20,
	"network.ports":     quota.Unlimited,
	"volume.gigabytes":  1000,
}

// newEngine returns an engine with defaults on a fresh, migrated database.
func newEngine(t *testing.T) (*quota.Engine, *gorm.DB) {
	t.Helper()
	db := testutil.DB(t)
	return quota.New(db, defaults), db
}

// usage returns the project's accounting for one resource.
func usage(t *testing.T, e *quota.Engine, project, resource string) quota.Usage {
	t.Helper()
	all, err := e.Usage(context.Background(), project)
	if err != nil {
		t.Fatalf("Usage(%s): %v", project, err)
	}
	u, ok := all[resource]
	if !ok {
		t.Fatalf("Usage(%s) has no %s: %v", project, resource, all)
	}
	return u
}

// consume runs Consume in a transaction of its own.
func consume(t *testing.T, e *quota.Engine, db *gorm.DB, project string, deltas map[string]int64) error {
	t.Helper()
	return db.Transaction(func(tx *gorm.DB) error { return e.Consume(tx, project, deltas) })
}

// mustConsume is consume that fails the test on error.
func mustConsume(t *testing.T, e *quota.Engine, db *gorm.DB, project string, deltas map[string]int64) {
	t.Helper()
	if err := consume(t, e, db, project, deltas); err != nil {
		t.Fatalf("Consume(%s, %v): %v", project, deltas, err)
	}
}
