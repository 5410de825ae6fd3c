package filejournal_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/journal/internal/crashworld"
	"github.com/handrail-dev/handrail/journal/internal/leasetest"
)

// envStateDir is the state directory of a helper process.
const envStateDir = "HANDRAIL_FILEJOURNAL_DIR"

// TestMain lets the test binary act as the helper process of the crash
// matrix and of the two-process lock tests.
func TestMain(m *testing.M) {
	if os.Getenv(crashworld.EnvMode) != "" {
		j, err := filejournal.Open(os.Getenv(envStateDir), nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(crashworld.Main(j, os.Stdout))
	}
	if mode := os.Getenv(leasetest.EnvMode); mode != "" {
		j, err := filejournal.Open(os.Getenv(envStateDir), &filejournal.Options{LeaseCheck: leasetest.CheckInterval()})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Exit(leasetest.Main(j, mode, os.Stdout, os.Stderr))
	}
	if os.Getenv(envLockHelper) != "" {
		os.Exit(lockHelper())
	}
	os.Exit(m.Run())
}
