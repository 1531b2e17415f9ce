// Package workflow is the skeleton push and pull share, so both run the same
// steps the same way: find the project and the remote (with the checks that
// come before anything runs), open the adapter session (policy, prompt,
// installer), call adapter commands with the adapter retry policy, move
// bytes through an adapter-given URL with a fresh prepare when the URL
// expired, report steps to the caller, and turn a receipt failure into a
// clear error. What differs between push and pull stays in those packages.
package workflow
