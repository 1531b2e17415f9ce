// Package transfer moves pack bytes to and from the URLs a remote adapter hands
// out in push.prepare / pull.prepare. The adapter is not trusted, so every URL
// goes through one policy ([CheckURL]):
//
//   - https is always allowed (any host);
//   - http only to exactly localhost, 127.0.0.1 or ::1, and only with
//     Policy.AllowLoopbackHTTP — and adapter headers are never sent over
//     plain http (they may carry credentials);
//   - file:// only when Policy.FileRoot is set, with the path inside it; every
//     folder below the root is opened without following symbolic links;
//   - everything else (other schemes, user info in the URL, …) is refused.
//
// [Client.Upload] sends exactly the bytes of UploadRequest.Body, hashes what it
// sends and fails with DigestMismatch when they are not the verified bytes. It
// never follows a redirect. [Client.Download] writes into a caller-owned temp
// file while hashing, follows at most 5 redirects that each pass the policy
// again, refuses bodies that do not match the expected size and resumes an
// interrupted body with a Range request when the server supports it.
//
// Both retry 408, 429, 500, 502, 503 and 504 answers and connection errors
// (resets, EOFs, refused connections, timeouts, stalls) with exponential
// backoff, full jitter and Retry-After; both stop when ctx ends. A presigned
// URL that has expired gives errcode.URLExpired so the caller can prepare
// again. The retry loop itself lives in internal/retry, which the workflows
// also use for adapter calls answered with retryable:true.
package transfer
