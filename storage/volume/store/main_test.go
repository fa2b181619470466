package store

import (
	"os"
	"testing"

	"github.com/kumo-cloud/kumo/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }
