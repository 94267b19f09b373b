// Package objects is ChatSend's S3 adapter: put, ranged get and delete of
// objects in one bucket, such as uploaded contact CSV files in the imports
// bucket. Every object is encrypted at rest (SSE-S3).
package objects

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/chatsend/chatsend/shared/awsclient"
	"github.com/chatsend/chatsend/shared/contacts"
	"github.com/chatsend/chatsend/shared/errs"
	"github.com/chatsend/chatsend/shared/privacy"
)

// Bucket is one S3 bucket.
type Bucket struct {
	client *s3.Client
	name   string
}

var (
	_ contacts.Objects = (*Bucket)(nil)
	_ privacy.Objects  = (*Bucket)(nil)
)

// New returns the bucket with the given name.
func New(client *s3.Client, name string) *Bucket { return &Bucket{client: client, name: name} }

// Name returns the bucket's name.
func (b *Bucket) Name() string { return b.name }

// Put stores body under key with server-side encryption.
func (b *Bucket) Put(ctx context.Context, key string, body []byte, contentType string) error {
	_, err := b.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.name, Key: &key, Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))), ContentType: &contentType,
		ServerSideEncryption: types.ServerSideEncryptionAes256})
	if err != nil {
		return fmt.Errorf("put s3://%s/%s: %w", b.name, key, err)
	}
	return nil
}

// Get reads the object from byte offset on (a ranged read when offset >
// 0); a missing object is errs.NotFound. The caller closes the reader.
func (b *Bucket) Get(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &b.name, Key: &key}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	// A ranged read has no whole-object checksum to validate; say nothing
	// about the skipped check (the SDK logs it on every such read).
	res, err := b.client.GetObject(ctx, in, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	if awsclient.HasCode(err, "InvalidRange") {
		return io.NopCloser(bytes.NewReader(nil)), nil // offset at (or past) the end
	}
	if awsclient.HasCode(err, "NoSuchKey", "NotFound") {
		return nil, errs.E(errs.NotFound, "no object %q", key)
	}
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", b.name, key, err)
	}
	return res.Body, nil
}

// Delete removes the object for good, every version of it (the buckets are
// versioned: a plain delete would only hide the data behind a marker);
// deleting a missing object is no error.
func (b *Bucket) Delete(ctx context.Context, key string) error {
	_, err := b.purge(ctx, key, func(k string) bool { return k == key })
	return err
}

// PresignGet returns a URL that downloads key with a plain GET until ttl
// passes (SigV4 query signing: X-Amz-Expires). Nothing is sent to S3.
func (b *Bucket) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s3.NewPresignClient(b.client).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b.name, Key: &key},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign s3://%s/%s: %w", b.name, key, err)
	}
	return req.URL, nil
}

// DeletePrefix deletes every object under prefix for good, like Delete,
// and counts the objects (keys) it removed.
func (b *Bucket) DeletePrefix(ctx context.Context, prefix string) (int, error) {
	return b.purge(ctx, prefix, func(string) bool { return true })
}

// purge deletes every version and delete marker of the keys under prefix
// that match — one DeleteObjects call per listing page (at most 1,000) —
// and counts the keys. An unversioned bucket lists its objects as versions
// too (version id "null"), so this covers both.
func (b *Bucket) purge(ctx context.Context, prefix string, match func(key string) bool) (int, error) {
	keys := map[string]bool{}
	in := &s3.ListObjectVersionsInput{Bucket: &b.name, Prefix: &prefix}
	for {
		page, err := b.client.ListObjectVersions(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("list versions s3://%s/%s: %w", b.name, prefix, err)
		}
		var doomed []types.ObjectIdentifier
		add := func(key, id *string) {
			if match(aws.ToString(key)) {
				doomed = append(doomed, types.ObjectIdentifier{Key: key, VersionId: id})
				keys[aws.ToString(key)] = true
			}
		}
		for _, v := range page.Versions {
			add(v.Key, v.VersionId)
		}
		for _, m := range page.DeleteMarkers {
			add(m.Key, m.VersionId)
		}
		if len(doomed) > 0 {
			res, err := b.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b.name,
				Delete: &types.Delete{Objects: doomed, Quiet: aws.Bool(true)}})
			if err != nil {
				return 0, fmt.Errorf("delete %d versions under s3://%s/%s: %w", len(doomed), b.name, prefix, err)
			}
			if len(res.Errors) > 0 {
				e := res.Errors[0]
				return 0, fmt.Errorf("delete s3://%s/%s@%s: %s %s (%d failed)", b.name, aws.ToString(e.Key), aws.ToString(e.VersionId),
					aws.ToString(e.Code), aws.ToString(e.Message), len(res.Errors))
			}
		}
		if !aws.ToBool(page.IsTruncated) {
			return len(keys), nil
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
	}
}
