// Package retry owns the one retry loop of the module: a bounded policy,
// exponential backoff with full jitter, a server's Retry-After as the
// minimum wait, and the rule for which errors deserve another attempt.
// Transfers (HTTP uploads and downloads) and workflow steps (adapter calls
// answered with retryable:true) both go through Do, so they back off alike.
package retry
