package temporal

// RetryPolicy is retryPolicy, for the tests.
var RetryPolicy = retryPolicy
