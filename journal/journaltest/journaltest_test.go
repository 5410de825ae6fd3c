package journaltest_test

import (
	"testing"

	"github.com/handrail-dev/handrail/journal/journaltest"
	"github.com/handrail-dev/handrail/runbook"
)

func TestMemJournal(t *testing.T) {
	journaltest.Suite{}.Run(t, func(t *testing.T) runbook.Journal { return &runbook.MemJournal{} })
}
