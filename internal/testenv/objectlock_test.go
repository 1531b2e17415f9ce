package testenv

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestLockServerEnforces: the lock server's user account is held to Object
// Lock: a retained object version cannot be deleted, a held one neither,
// and a bucket without Object Lock says so.
func TestLockServerEnforces(t *testing.T) {
	l := RequireLockServer(t)
	c := l.User.Client()
	ctx := context.Background()
	bucket := l.NewLockBucket(t, true)
	cfg, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil || cfg.ObjectLockConfiguration == nil || cfg.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		t.Fatalf("object lock configuration: %+v %v", cfg, err)
	}
	data := []byte("sealed")
	sum := md5.Sum(data)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), Body: bytes.NewReader(data),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:])), ObjectLockMode: types.ObjectLockModeCompliance,
		ObjectLockRetainUntilDate: aws.Time(time.Now().Add(time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("a"), VersionId: put.VersionId}); err == nil {
		t.Fatal("a retained version was deleted")
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("b"), Body: bytes.NewReader(data), ContentMD5: aws.String(base64.StdEncoding.EncodeToString(sum[:]))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{Bucket: aws.String(bucket), Key: aws.String("b"), LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}}); err != nil {
		t.Fatal(err)
	}
	h, err := c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String(bucket), Key: aws.String("b")})
	if err != nil || h.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold: %+v %v", h, err)
	}
	hv, _ := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("b")})
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("b"), VersionId: hv.VersionId}); err == nil {
		t.Fatal("a held version was deleted")
	}
	r, err := c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String("a")})
	if err != nil || r.Retention == nil || r.Retention.Mode != types.ObjectLockRetentionModeCompliance {
		t.Fatalf("retention: %+v %v", r, err)
	}
	// Shortening COMPLIANCE retention is refused.
	if _, err := c.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{Bucket: aws.String(bucket), Key: aws.String("a"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(time.Now().Add(time.Minute))}}); err == nil {
		t.Fatal("compliance retention shortened")
	}
	plain := l.NewLockBucket(t, false)
	if _, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(plain)}); err == nil {
		t.Fatal("a bucket without object lock has a configuration")
	} else {
		t.Logf("no object lock: %v", err)
	}
}
