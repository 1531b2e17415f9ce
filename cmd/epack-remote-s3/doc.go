// Command epack-remote-s3 is epack's remote adapter for a registry in any
// S3-compatible bucket (AWS S3, versitygw, MinIO, Ceph RGW, R2).
//
// Environment (set by the epack host):
//
//	EPACK_REMOTE_CONFIG   the remote's extensions map as JSON:
//	                      {"bucket": "...",            required
//	                       "prefix": "evidence",       optional key prefix
//	                       "region": "eu-west-1",      default AWS_REGION/profile, else us-east-1
//	                       "endpoint": "https://…",    S3-compatible endpoint (versitygw, MinIO, R2…)
//	                       "path_style": true,         <endpoint>/<bucket> addressing
//	                       "presign_expiry": "15m"}    URL lifetime (1m..168h)
//	AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE, AWS_REGION …
//	                      the standard AWS credential chain; pass them with the remote's secrets:
//
// Layout and semantics: package registry.
package main
