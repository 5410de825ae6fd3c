// Package runbooktest runs runbook plans in tests, the way net/http/httptest
// serves handlers: on a simulated clock, with a [Recorder] of what ran and
// what was compensated, failure injection by node name, a scripted
// [Approver], and assertions that fail the test through testing.TB.
//
//	h := runbooktest.New(t, plan,
//		runbooktest.FailAttempt("migrate", 1, errors.New("migration 016 failed")),
//		runbooktest.BreachAt("soak_50", 9*time.Minute))
//	h.Run()
//	h.AssertStatus(runbook.StatusRolledBack)
//	h.AssertCompensated("shift_10", "images", "backup")
//
// The fault modes of test files (`fault { mode = ... }`) have their
// options: [Fail] (before the effect), [FailAfterEffect] (the effect
// happens, the answer is lost), [NoAnswer] (the effect happens, the answer
// never comes: the step's timeout decides) and [Latency]; the *Attempt
// forms hit one attempt only, so a retry after a lost answer can be
// proven:
//
//	h := runbooktest.New(t, plan,
//		runbooktest.FailAfterEffectAttempt("traffic_10", 1, nil),
//		runbooktest.Fail("soak_10", nil))
//	h.Run()
//	h.AssertCompensated("traffic_10", "images")  // back to 100/0, not 90/10
//
// Failure injection wraps the plan's actions, rollbacks and checks with
// [runbook.Plan.Intercept]; the plan itself is not modified. The package is
// intended for use in tests only.
package runbooktest
