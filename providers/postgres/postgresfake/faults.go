package postgresfake

import (
	"strconv"

	"github.com/handrail-dev/handrail/provider/fault"
)

// Calls of the fake server that faults can be armed on (see
// [World.Inject]). Each call that changes the world runs through the
// world's [fault.Injector] under one of these names.
const (
	// CallMigrate is a whole migration run: a fault before it changes
	// nothing; after it, every planned script ran and the answer is lost;
	// latency holds the answer after the scripts ran.
	CallMigrate = "Migrate"
	// CallQuery is a statement with mutates = true (its effect is being
	// recorded in Executed).
	CallQuery = "Query"
	// CallBackup is pg_dump; CallRestore is pg_restore.
	CallBackup  = "Backup"
	CallRestore = "Restore"
)

// CallMigration names the script of one migration inside a migration run
// ("Migration 17"): a fault before it rolls its transaction back (the
// version stays at the one before), after it the transaction committed and
// the answer to the COMMIT is lost. Arm latency on [CallMigrate], not here.
func CallMigration(version int64) string { return "Migration " + strconv.FormatInt(version, 10) }

// Inject arms f on the next calls named call (CallMigrate,
// CallMigration(17), CallRestore, ...): fail before the effect, apply it
// and lose the answer, or take time on f.Clock.
func (w *World) Inject(call string, f fault.Fault) { w.faults.Arm(call, f) }

// Faults returns the world's injector, to clear faults or count calls.
func (w *World) Faults() *fault.Injector { return &w.faults }
