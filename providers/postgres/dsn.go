package postgres

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/handrail-dev/handrail/internal/lazyre"
	"github.com/handrail-dev/handrail/runbook"
)

// dsnInfo is what messages may say about a DSN: never the password.
type dsnInfo struct {
	host, user, database string
	port                 uint16
	password             string
}

// where describes the server for messages ("postgres@127.0.0.1:5432/dcmms").
func (d dsnInfo) where() string {
	return fmt.Sprintf("%s@%s:%d/%s", d.user, d.host, d.port, d.database)
}

// parseDSN checks a DSN's syntax without connecting.
func parseDSN(dsn string) (dsnInfo, error) {
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return dsnInfo{}, fmt.Errorf("dsn is not a valid PostgreSQL connection string (%s): use postgres://user:password@host:5432/db?sslmode=disable",
			redactString(errors.Unwrap(err), dsn, ""))
	}
	return dsnInfo{host: cfg.Host, port: cfg.Port, user: cfg.User, database: cfg.Database, password: cfg.Password}, nil
}

var (
	urlPassword = lazyre.New(`(://[^:/@\s]*:)[^@\s]*@`)
	kvPassword  = lazyre.New(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
)

// redactString returns the text of err with the DSN, its password (plain and
// URL-encoded) and anything shaped like a password in a connection string
// replaced by "(sensitive)".
func redactString(err error, dsn, password string) string {
	if err == nil {
		return ""
	}
	return redactText(err.Error(), dsn, password)
}

func redactText(s, dsn, password string) string {
	if dsn != "" && strings.Contains(s, dsn) {
		s = strings.ReplaceAll(s, dsn, "(sensitive dsn)")
	}
	// The core redactor knows the encoded forms (URL, JSON, base64, hex).
	s = runbook.NewRedactor(dsn, password).Redact(s)
	s = urlPassword.ReplaceAllString(s, "${1}(sensitive)@")
	s = kvPassword.ReplaceAllString(s, "${1}(sensitive)")
	return s
}

// cleanError is an error whose message was redacted; the cause stays
// reachable for errors.Is/As (callers must not print it).
type cleanError struct {
	msg string
	err error
}

func (e *cleanError) Error() string { return e.msg }
func (e *cleanError) Unwrap() error { return e.err }
