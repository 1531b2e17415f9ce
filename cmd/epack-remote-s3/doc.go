// Command epack-remote-s3 is epack's remote adapter for a registry in any
// S3-compatible bucket (AWS S3, versitygw, MinIO, Ceph RGW, R2).
//
// Environment (set by the epack host):
//
//	EPACK_REMOTE_CONFIG   the remote's extensions map as JSON:
//	                      {"bucket": "...",            required (or S3_REGISTRY_URL below)
//	                       "prefix": "evidence",       optional key prefix
//	                       "region": "eu-west-1",      default AWS_REGION/profile, else us-east-1
//	                       "endpoint": "https://…",    S3-compatible endpoint (versitygw, MinIO, R2…)
//	                       "path_style": true,         <endpoint>/<bucket> addressing
//	                       "presign_expiry": "15m",    URL lifetime (1m..168h)
//	                       "upload_headers": "auto"}   auto | signed | none (signed for https, none for http)
//	S3_REGISTRY_URL       read when EPACK_REMOTE_CONFIG has no bucket (hosts that pass only the
//	                      remote's secrets:, like the existing epack tool):
//	                      s3://<bucket>[/<prefix>]?region=…&endpoint=…&path_style=true&presign_expiry=15m
//	                      (every query key optional; upload_headers too). Its values override
//	                      EPACK_REMOTE_CONFIG's; a malformed URL is an invalid_request answer.
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION …
//	                      the standard AWS credential chain; pass them with the remote's secrets:
//
// Permissions needed: s3:ListBucket, s3:GetObject, s3:PutObject,
// s3:DeleteObject on the bucket/prefix (read-only credentials can pull, but
// pull.finalize then fails to record the fetch, which the host only warns
// about). The server must support conditional writes (If-None-Match: *,
// If-Match) — AWS S3, versitygw ≥ 1.8, recent MinIO, R2 and Ceph RGW do.
//
// Every protocol command gets one JSON answer and exit status 0, error
// answers included (package adapter). Layout and semantics: package registry.
package main
