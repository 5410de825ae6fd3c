package postgres_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine started by them is
// still running once they are done. One is ignored: golang-migrate (used
// here only to prove compatibility with its schema_migrations table) reads
// each migration's body in a goroutine of its own, (*Migration).Buffer,
// which stays blocked on its pipe when the migration is not run to the end
// (a refused lock, a failing script); the library offers no way to stop it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/golang-migrate/migrate/v4.(*Migration).Buffer"))
}
