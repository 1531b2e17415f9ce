package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/evidencerelay/epack/protocol"
	"github.com/evidencerelay/epack/registry"
)

// Write-once storage with S3 Object Lock: with extensions.object_lock
// {mode: GOVERNANCE|COMPLIANCE, retain: 7y|90d|36h} every release record is
// written with that retention and every pack blob gets it once its release
// exists; a push may ask for longer (push --retain), never shorter. Legal
// holds (epack hold) keep a release's blob and records whatever their
// retention. Mutable indexes (heads, pointers, listing) are not retained:
// they are rebuilt from the records. The bucket must have been created with
// Object Lock enabled; the adapter checks that before the first push and
// at whoami, and says so when it is not.

// ObjectLock is extensions.object_lock.
type ObjectLock struct {
	// Mode is GOVERNANCE or COMPLIANCE.
	Mode string
	// Retain is how long records and blobs are kept from when they are written.
	Retain time.Duration
	// RetainText is Retain as configured ("7y").
	RetainText string
}

var (
	_ registry.Sealer         = (*Store)(nil)
	_ registry.Retainer       = (*Store)(nil)
	_ registry.Holder         = (*Store)(nil)
	_ registry.RetentionRuler = (*Store)(nil)
)

// parseObjectLock reads extensions.object_lock (nil when absent).
func parseObjectLock(v any) (*ObjectLock, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, bad("object_lock must be an object {mode: GOVERNANCE|COMPLIANCE, retain: 7y}")
	}
	for k := range m {
		if k != "mode" && k != "retain" {
			return nil, bad("object_lock has an unknown setting %q (mode, retain)", k)
		}
	}
	mode, _ := m["mode"].(string)
	mode = strings.ToUpper(strings.TrimSpace(mode))
	if mode != string(types.ObjectLockModeGovernance) && mode != string(types.ObjectLockModeCompliance) {
		return nil, bad("object_lock.mode must be GOVERNANCE or COMPLIANCE, got %q", mode)
	}
	text, _ := m["retain"].(string)
	d, err := protocol.ParseRetention(strings.TrimSpace(text))
	if err != nil || d <= 0 {
		return nil, bad("object_lock.retain must be a period like 7y, 90d or 36h, got %q", text)
	}
	return &ObjectLock{Mode: mode, Retain: d, RetainText: strings.TrimSpace(text)}, nil
}

// lockState remembers, per process, whether the bucket has Object Lock.
type lockState struct {
	once    sync.Once
	enabled bool
	err     error
}

var lockStates sync.Map // bucket → *lockState

// bucketLocked reports whether the bucket has Object Lock enabled (asked
// once per process).
func (s *Store) bucketLocked(ctx context.Context) (bool, error) {
	v, _ := lockStates.LoadOrStore(s.cfg.Bucket, &lockState{})
	st := v.(*lockState)
	st.once.Do(func() {
		out, err := s.client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String(s.cfg.Bucket)})
		switch {
		case err == nil:
			st.enabled = out.ObjectLockConfiguration != nil && out.ObjectLockConfiguration.ObjectLockEnabled == types.ObjectLockEnabledEnabled
		case isNoLockConfig(err):
		default:
			st.err = s.mapErr(err, "reading the Object Lock configuration of the bucket", "")
		}
	})
	if st.err != nil {
		err := st.err
		lockStates.Delete(s.cfg.Bucket) // ask again next time
		return false, err
	}
	return st.enabled, nil
}

func isNoLockConfig(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "ObjectLockConfigurationNotFound") || strings.Contains(msg, "NoSuchObjectLockConfiguration") ||
		strings.Contains(msg, "InvalidRequest") && strings.Contains(strings.ToLower(msg), "object lock")
}

// Preflight refuses to work with extensions.object_lock on a bucket that
// does not have Object Lock enabled.
func (s *Store) Preflight(ctx context.Context) error {
	if s.cfg.ObjectLock == nil {
		return nil
	}
	on, err := s.bucketLocked(ctx)
	if err != nil {
		return err
	}
	if !on {
		return protocol.Errorf(protocol.CodeInvalidRequest,
			"bucket %q does not have S3 Object Lock enabled, but the remote asks for write-once storage (extensions.object_lock, %s %s): nothing was written. "+
				"Object Lock can only be turned on when a bucket is created (aws s3api create-bucket --bucket <name> --object-lock-enabled-for-bucket); "+
				"use such a bucket, or remove extensions.object_lock", s.cfg.Bucket, s.cfg.ObjectLock.Mode, s.cfg.ObjectLock.RetainText)
	}
	return nil
}

// lockDescription is what whoami tells of Object Lock.
func (s *Store) lockDescription() string {
	if s.cfg.ObjectLock == nil {
		return ""
	}
	return fmt.Sprintf(" (Object Lock %s, retain %s)", s.cfg.ObjectLock.Mode, s.cfg.ObjectLock.RetainText)
}

// CanRetain reports whether records and blobs get retention.
func (s *Store) CanRetain() bool { return s.cfg.ObjectLock != nil }

// retainUntil is the later of the configured retention from now and until.
func (s *Store) retainUntil(until time.Time) time.Time {
	t := time.Now().Add(s.cfg.ObjectLock.Retain).UTC()
	if until.After(t) {
		t = until.UTC()
	}
	return t.Truncate(time.Second).Add(time.Second)
}

// CreateSealed writes data at key unless it exists, retained with the
// configured mode until the configured period from now or until,
// whichever is later.
func (s *Store) CreateSealed(ctx context.Context, key string, data []byte, until time.Time) error {
	if s.cfg.ObjectLock == nil {
		return s.CreateIfAbsent(ctx, key, data)
	}
	if err := s.Preflight(ctx); err != nil {
		return err
	}
	sum := md5.Sum(data)
	in := &s3.PutObjectInput{
		Bucket:                    aws.String(s.cfg.Bucket),
		Key:                       aws.String(s.full(key)),
		Body:                      bytes.NewReader(data),
		ContentLength:             aws.Int64(int64(len(data))),
		ContentType:               aws.String("application/json"),
		ContentMD5:                aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		IfNoneMatch:               aws.String("*"),
		ObjectLockMode:            types.ObjectLockMode(s.cfg.ObjectLock.Mode),
		ObjectLockRetainUntilDate: aws.Time(s.retainUntil(until)),
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		in.Body = bytes.NewReader(data)
		_, err = s.client.PutObject(ctx, in)
		err = s.mapErr(err, "put", key)
		if !errors.Is(err, registry.ErrConflict) {
			return err
		}
		if _, herr := s.Head(ctx, key); herr == nil {
			return registry.ErrExists
		}
		time.Sleep(time.Duration(5*(attempt+1)) * time.Millisecond)
	}
	return registry.ErrExists
}

// SealBlob retains the blob at key until the configured period from now or
// until, whichever is later — never shorter than it is retained already.
func (s *Store) SealBlob(ctx context.Context, key string, until time.Time) error {
	if s.cfg.ObjectLock == nil {
		return nil
	}
	if err := s.Preflight(ctx); err != nil {
		return err
	}
	want := s.retainUntil(until)
	cur, _, err := s.Retained(ctx, key)
	if err != nil {
		return err
	}
	if !cur.Before(want) {
		return nil
	}
	_, err = s.client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket:    aws.String(s.cfg.Bucket),
		Key:       aws.String(s.full(key)),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionMode(s.cfg.ObjectLock.Mode), RetainUntilDate: aws.Time(want)},
	})
	return s.mapErr(err, "setting the retention of", key)
}

// Retained reports until when key's current version is retained and
// whether it is under legal hold.
func (s *Store) Retained(ctx context.Context, key string) (time.Time, bool, error) {
	on, err := s.bucketLocked(ctx)
	if err != nil || !on {
		return time.Time{}, false, err
	}
	var until time.Time
	r, err := s.client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key))})
	switch {
	case err == nil:
		if r.Retention != nil {
			until = aws.ToTime(r.Retention.RetainUntilDate)
		}
	case !noLock(err):
		return time.Time{}, false, s.mapErr(err, "reading the retention of", key)
	}
	h, err := s.client.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key))})
	switch {
	case err == nil:
		return until, h.LegalHold != nil && h.LegalHold.Status == types.ObjectLockLegalHoldStatusOn, nil
	case !noLock(err):
		return time.Time{}, false, s.mapErr(err, "reading the legal hold of", key)
	}
	return until, false, nil
}

// noLock reports an answer meaning "no retention / legal hold set".
func noLock(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "NoSuchObjectLockConfiguration") || strings.Contains(msg, "ObjectLockConfigurationNotFound") ||
		strings.Contains(msg, "StatusCode: 404") && !strings.Contains(msg, "NoSuchKey")
}

// LegalHolds reports whether the remote is configured for Object Lock.
func (s *Store) LegalHolds() bool { return s.cfg.ObjectLock != nil }

// SetLegalHold sets or clears the legal hold of key's current version.
func (s *Store) SetLegalHold(ctx context.Context, key string, on bool) error {
	if err := s.Preflight(ctx); err != nil {
		return err
	}
	st := types.ObjectLockLegalHoldStatusOff
	if on {
		st = types.ObjectLockLegalHoldStatusOn
	}
	_, err := s.client.PutObjectLegalHold(ctx, &s3.PutObjectLegalHoldInput{
		Bucket: aws.String(s.cfg.Bucket), Key: aws.String(s.full(key)), LegalHold: &types.ObjectLockLegalHold{Status: st},
	})
	return s.mapErr(err, "setting the legal hold of", key)
}

// ObjectLockOf reports whether the configuration EPACK_REMOTE_CONFIG
// holds asks for Object Lock (for --capabilities, which opens no store).
func ObjectLockOf(raw string) bool {
	c, _, err := parseJSONConfig(raw)
	return err == nil && c.ObjectLock != nil
}

// RetentionRule is the configured Object Lock mode and period ("" and 0
// without extensions.object_lock).
func (s *Store) RetentionRule() (string, time.Duration) {
	if s.cfg.ObjectLock == nil {
		return "", 0
	}
	return s.cfg.ObjectLock.Mode, s.cfg.ObjectLock.Retain
}
