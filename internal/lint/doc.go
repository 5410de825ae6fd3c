// Package lint holds repository-wide checks that run with go test: every
// package of the module has a package doc comment and every exported name a
// doc comment. It has no API; see doc_test.go.
package lint
