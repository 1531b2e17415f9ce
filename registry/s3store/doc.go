// Package s3store is the registry.Store of epack-remote-s3: a registry in
// any S3-compatible bucket (AWS S3, versitygw, MinIO, Ceph RGW, R2), below an
// optional key prefix, through aws-sdk-go-v2 with the standard credential
// chain. Conditional creates are PutObject with If-None-Match: *; compare-
// and-swap is PutObject with If-Match: <etag> (the server must support
// both; TestConditionalWrites checks a server).
//
// Uploads are presigned PUTs. With signed headers (https endpoints) the PUT
// goes straight to the pack's content address, signed with Content-MD5 and
// x-amz-checksum-sha256 so the server refuses other bytes; finalize checks
// what the server recorded. Over plain http the epack host sends no adapter
// headers, so the PUT goes to a one-time staging key and finalize reads it
// back (MD5, SHA-256) before copying it to the content address. Downloads
// are presigned GETs.
package s3store
