package sourceinstall

import (
	"os"
	"testing"

	"github.com/evidencerelay/epack/internal/testkit"
)

// TestMain removes the folder testkit built the adapter into.
func TestMain(m *testing.M) { os.Exit(testkit.Main(m)) }
