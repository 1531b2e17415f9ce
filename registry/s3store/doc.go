// Package s3store is the registry.Store of epack-remote-s3: a registry in
// any S3-compatible bucket (AWS S3, versitygw, MinIO, Ceph RGW, R2), below an
// optional key prefix, through aws-sdk-go-v2 with the standard credential
// chain. Conditional creates are PutObject with If-None-Match: *; compare-
// and-swap is PutObject with If-Match: <etag>. Uploads are presigned PUTs
// signed with Content-MD5, x-amz-checksum-sha256 and If-None-Match: * to a
// one-time staging key; finalize verifies size and digest before copying the
// bytes to their content address. Downloads are presigned GETs.
package s3store
