package db_test

import (
	"fmt"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) {
	// Backends orphaned by the postmaster kill tests are re-parented to us
	// rather than to an init that may not reap them, and the cluster reaps
	// them; so no zombie postgres outlives the tests.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		fmt.Fprintf(os.Stderr, "set child subreaper: %v\n", err)
	}
	os.Exit(testutil.Main(m))
}
