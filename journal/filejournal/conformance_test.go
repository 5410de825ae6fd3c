package filejournal_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/journal/filejournal"
	"github.com/handrail-dev/handrail/journal/journaltest"
	"github.com/handrail-dev/handrail/runbook"
)

func open(t *testing.T, dir string, opts *filejournal.Options) *filejournal.Journal {
	t.Helper()
	j, err := filejournal.Open(dir, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = j.Close() })
	return j
}

func TestConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) runbook.Journal { return open(t, t.TempDir(), nil) })
}

func TestConformanceNoGroupCommit(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) runbook.Journal {
		return open(t, t.TempDir(), &filejournal.Options{NoGroupCommit: true})
	})
}
