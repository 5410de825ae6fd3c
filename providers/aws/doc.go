// Package aws is Handrail's provider for Amazon Web Services: S3 objects
// (the seed's "verify the production backup exists for today", backup
// uploads and downloads) and Elastic Load Balancing v2 listener rules (the
// seed's traffic ramp 90/10 -> 50/50 -> 0/100, and target health as a gate).
//
// A `provider "aws" "name"` block ([Config]) is resolved with the SDK's
// config.LoadDefaultConfig: environment, shared config files and profiles
// (SSO included), container and instance roles, then an optional role to
// assume (role_arn, external_id) through STS. Static keys are used only
// when given (secret_access_key and session_token are sensitive). Region
// and per-service endpoints (s3_endpoint, elbv2_endpoint) can be
// overridden; clients are created on first use. Retryable errors,
// throttling included, are retried by the SDK's standard retryer
// (max_attempts).
//
// Actions:
//
//   - s3_object_exists (read-only; also a probe: the value is the number
//     of matches): the newest object under a prefix matching a glob,
//     today's date (a strftime layout) or a regexp; fails with
//     [ErrNoBackup] when none.
//   - s3_upload: a file or a directory, multipart above the part size
//     through the SDK's transfer manager, every object verified (S3's
//     SHA-256 checksum, else the MD5 ETag). Its natural rollback deletes
//     the objects the step created, never an object that existed before
//     (in a versioned bucket it deletes the step's own version instead);
//     keep = true keeps them.
//   - s3_download (read-only): an object to a file, verified, written
//     whole or not at all.
//   - elbv2_weights: sets the weights of a rule's forward action after
//     capturing the previous ones (output previous_weights); its natural
//     rollback restores them exactly. Weights are 0-999 and every target
//     group named must be in the rule.
//   - elbv2_target_health (read-only; also a probe: the value is the
//     healthy count of the named group).
//
// The clients the actions use are the narrow interfaces [S3Client] and
// [ELBv2Client]; [NewSDKClients] is the real adapter on aws-sdk-go-v2 and
// package awsfake a stateful in-memory fake of both, for runbook tests and
// the sandbox.
//
// The transfer manager is feature/s3/manager (v1, deprecated in favour of
// feature/s3/transfermanager, which is still v0.x and may change its API
// in any release); only [S3Adapter] knows which one is used.
package aws
