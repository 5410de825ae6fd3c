// Package mdimport turns a Markdown deployment runbook into a Handrail
// runbook skeleton.
//
// Headings become phases; the title and a "window" become the runbook
// block; shell code blocks become ssh_exec steps (`ssh [user@]host ...`,
// one provider instance per host) or local_exec steps, split where the
// document numbers its commands; task lists become manual checklists;
// Go/No-Go, approval and sign-off points become approval gates naming the
// roles; a timeline table gives budgets, the window and the point of no
// return; commands that clearly are one (a GET curl, docker pull, docker
// compose up, pg_dump, aws s3 cp, golang-migrate) become typed actions;
// the rollback procedure is matched to the steps it undoes. Literal hosts,
// URLs, versions, buckets and ARNs become variables whose values go to an
// .auto.hclvars file; secrets become sensitive variables without a value.
// Every mutating step left without a rollback carries a TODO comment and
// makes `handrail validate` report one located error: the author's to-do
// list.
package mdimport
