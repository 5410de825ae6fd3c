package aws

import (
	"fmt"
	"strings"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/provider/ctyargs"
	"github.com/handrail-dev/handrail/runbook"
	"github.com/zclconf/go-cty/cty"
)

// actionTypes returns the HCL-facing descriptions of the actions.
func actionTypes() map[string]provider.ActionType {
	objectOutputs := map[string]provider.Output{
		"key":           {Type: cty.String, Description: "the newest matching key"},
		"uri":           {Type: cty.String, Description: "s3://bucket/key of the newest match"},
		"size":          {Type: cty.Number, Description: "its size in bytes"},
		"last_modified": {Type: cty.String, Description: "its last-modified time, RFC 3339"},
		"etag":          {Type: cty.String, Description: "its ETag"},
		"count":         {Type: cty.Number, Description: "the number of matching objects"},
		"date":          {Type: cty.String, Description: "the date searched for (with date)"},
	}
	healthOutputs := map[string]provider.Output{
		"healthy":   {Type: cty.Number, Description: "healthy targets of target_group_arn"},
		"unhealthy": {Type: cty.Number, Description: "targets of target_group_arn in any other state"},
		"total":     {Type: cty.Number, Description: "registered targets of target_group_arn"},
		"states":    {Type: cty.Map(cty.Number), Description: "count of targets by state"},
		"targets":   {Type: cty.DynamicPseudoType, Description: "list of {id, port, state, reason}"},
		"groups":    {Type: cty.DynamicPseudoType, Description: "per target group ARN: {healthy, unhealthy, total}"},
		"value":     {Type: cty.Number, Description: "the healthy count (as a step)"},
	}
	newAction := func(name string, build func(*Instance, *ctyargs.Attrs) (runbook.Action, error)) func(provider.Instance, cty.Value) (runbook.Action, error) {
		return func(inst provider.Instance, v cty.Value) (runbook.Action, error) {
			ai, err := instanceOf(name, inst)
			if err != nil {
				return nil, err
			}
			a, err := build(ai, &ctyargs.Attrs{V: v, Where: name})
			if err != nil {
				if strings.HasPrefix(err.Error(), name+":") {
					return nil, err
				}
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			return a, nil
		}
	}
	return map[string]provider.ActionType{
		"s3_object_exists": {
			Args: provider.Schema{
				"bucket":    {Type: cty.String, Required: true, Description: "bucket name"},
				"prefix":    {Type: cty.String, Description: "key prefix (production/)"},
				"pattern":   {Type: cty.String, Description: "glob on the key after the prefix (postgres_full_*.sql.gz)"},
				"date":      {Type: cty.String, Description: "strftime layout; the key must contain today's date in it (%Y%m%d)"},
				"time_zone": {Type: cty.String, Description: "IANA zone for date (default UTC)"},
				"regexp":    {Type: cty.String, Description: "regular expression the key must match"},
				"max_age":   {Type: cty.String, Description: "the newest match may be at most this old (Go duration: 26h)"},
				"min_size":  {Type: cty.Number, Description: "smallest acceptable size in bytes"},
			},
			Outputs:     objectOutputs,
			ReadOnly:    true,
			Description: "check that an object matching a prefix, a pattern or today's date exists (fails when none); as a check, the value is the number of matches",
			New: newAction("s3_object_exists", func(i *Instance, a *ctyargs.Attrs) (runbook.Action, error) {
				oa, err := objectExistsArgs(a)
				if err != nil {
					return nil, err
				}
				return NewObjectExists(i, oa)
			}),
			NewProbe: func(inst provider.Instance, v cty.Value) (runbook.Probe, error) {
				ai, err := instanceOf("s3_object_exists", inst)
				if err != nil {
					return nil, err
				}
				oa, err := objectExistsArgs(&ctyargs.Attrs{V: v, Where: "s3_object_exists"})
				if err != nil {
					return nil, err
				}
				return NewObjectExists(ai, oa)
			},
		},
		"s3_upload": {
			Args: provider.Schema{
				"bucket":       {Type: cty.String, Required: true, Description: "bucket name"},
				"source":       {Type: cty.String, Required: true, LocalPath: true, Description: "a file, or a directory whose files are uploaded under prefix (relative: to the runbook file's directory)"},
				"key":          {Type: cty.String, Description: "key of a file (default: prefix + its base name)"},
				"prefix":       {Type: cty.String, Description: "prefix of the keys (production/pre-release-2/)"},
				"part_size":    {Type: cty.Number, Description: "multipart part size in bytes (default 8 MiB, at least 5 MiB); larger files go up in parts"},
				"concurrency":  {Type: cty.Number, Description: "parts sent at once (default 5)"},
				"content_type": {Type: cty.String, Description: "Content-Type of the objects"},
				"keep":         {Type: cty.Bool, Description: "keep the uploaded objects on rollback"},
			},
			Outputs: map[string]provider.Output{
				"bucket":               {Type: cty.String, Description: "the bucket"},
				"key":                  {Type: cty.String, Description: "key of the (first) object"},
				"etag":                 {Type: cty.String, Description: "ETag of the (first) object"},
				"keys":                 {Type: cty.List(cty.String), Description: "every key uploaded"},
				"etags":                {Type: cty.Map(cty.String), Description: "ETag by key"},
				"sha256":               {Type: cty.Map(cty.String), Description: "hex SHA-256 by key"},
				"existed_before":       {Type: cty.Map(cty.Bool), Description: "by key: whether an object was there before (never deleted by the rollback)"},
				"version_ids":          {Type: cty.Map(cty.String), Description: "version created, by key (versioned buckets)"},
				"previous_version_ids": {Type: cty.Map(cty.String), Description: "by key: the version current before the step (versioned buckets; restored by the rollback)"},
				"verified_by":          {Type: cty.Map(cty.String), Description: "by key: sha256 (S3's checksum) or etag-md5"},
				"count":                {Type: cty.Number, Description: "number of objects"},
				"size":                 {Type: cty.Number, Description: "total bytes"},
			},
			NaturalRollback: true,
			Description:     "upload a file or a directory (multipart for large files), verifying checksums; rolls back by deleting the objects it created (keep = true keeps them)",
			New: newAction("s3_upload", func(i *Instance, a *ctyargs.Attrs) (runbook.Action, error) {
				ua := UploadArgs{
					Bucket: a.Str("bucket"), Source: a.Str("source"), Key: a.Str("key"), Prefix: a.Str("prefix"), ContentType: a.Str("content_type"),
					PartSize: int64(a.Int("part_size")), Concurrency: a.Int("concurrency"), Keep: a.Bool("keep"),
				}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewUpload(i, ua)
			}),
		},
		"s3_download": {
			Args: provider.Schema{
				"bucket":      {Type: cty.String, Required: true, Description: "bucket name"},
				"key":         {Type: cty.String, Required: true, Description: "object key"},
				"file":        {Type: cty.String, Required: true, LocalPath: true, Description: "local path to write (written whole or not at all; relative: to the runbook file's directory)"},
				"sha256":      {Type: cty.String, Description: "expected hex SHA-256 (default: the object's stored checksum or MD5 ETag)"},
				"verify":      {Type: cty.Bool, Description: "verify the checksum (default true)"},
				"part_size":   {Type: cty.Number, Description: "ranged-GET part size in bytes"},
				"concurrency": {Type: cty.Number, Description: "parts fetched at once"},
			},
			Outputs: map[string]provider.Output{
				"file":        {Type: cty.String, Description: "the local file"},
				"bucket":      {Type: cty.String, Description: "the bucket"},
				"key":         {Type: cty.String, Description: "the key"},
				"size":        {Type: cty.Number, Description: "bytes written"},
				"sha256":      {Type: cty.String, Description: "hex SHA-256 of the file"},
				"etag":        {Type: cty.String, Description: "the object's ETag"},
				"verified_by": {Type: cty.String, Description: "sha256, sha256-metadata, etag-md5, or none"},
			},
			ReadOnly:    true,
			Description: "download an object to a file, verifying its checksum",
			New: newAction("s3_download", func(i *Instance, a *ctyargs.Attrs) (runbook.Action, error) {
				da := DownloadArgs{
					Bucket: a.Str("bucket"), Key: a.Str("key"), File: a.Str("file"), SHA256: a.Str("sha256"),
					PartSize: int64(a.Int("part_size")), Concurrency: a.Int("concurrency"),
				}
				if a.IsSet("verify") {
					da.NoVerify = !a.Bool("verify")
				}
				if err := a.Err(); err != nil {
					return nil, err
				}
				return NewDownload(i, da)
			}),
		},
		"elbv2_weights": {
			Args: provider.Schema{
				"rule_arn": {Type: cty.String, Required: true, Description: "listener rule whose forward action is changed"},
				"weights":  {Type: cty.Map(cty.Number), Required: true, Description: "target group ARN = weight (0-999); groups not named keep theirs"},
			},
			Outputs: map[string]provider.Output{
				"rule_arn":         {Type: cty.String, Description: "the rule"},
				"previous_weights": {Type: cty.Map(cty.Number), Description: "weights before the step, by target group ARN (restored by the rollback)"},
				"weights":          {Type: cty.Map(cty.Number), Description: "weights after the step"},
				"target_groups":    {Type: cty.List(cty.String), Description: "the rule's target groups, in order"},
				"changed":          {Type: cty.Bool, Description: "whether the rule was modified"},
			},
			NaturalRollback: true,
			Description:     "set the weights of a listener rule's forward action (a traffic ramp); rolls back to the weights captured before",
			New: newAction("elbv2_weights", func(i *Instance, a *ctyargs.Attrs) (runbook.Action, error) {
				wa := WeightsArgs{RuleARN: a.Str("rule_arn")}
				m := a.IntMap("weights")
				if err := a.Err(); err != nil {
					return nil, err
				}
				wa.Weights = make(map[string]int, len(m))
				for k, v := range m {
					if v < 0 || v > MaxWeight {
						return nil, fmt.Errorf("weight %d for %s is out of range: ELBv2 takes 0 to %d", v, k, MaxWeight)
					}
					wa.Weights[k] = v
				}
				return NewWeights(i, wa)
			}),
		},
		"elbv2_target_health": {
			Args: provider.Schema{
				"target_group_arn":  {Type: cty.String, Required: true, Description: "the group whose healthy count is the value"},
				"target_group_arns": {Type: cty.List(cty.String), Description: "more groups, reported in the groups output"},
				"min_healthy":       {Type: cty.Number, Description: "as a step: fail while fewer targets are healthy"},
			},
			Outputs:     healthOutputs,
			ReadOnly:    true,
			Description: "target health of a target group; as a check, the value is its healthy count",
			New: newAction("elbv2_target_health", func(i *Instance, a *ctyargs.Attrs) (runbook.Action, error) {
				ta, err := targetHealthArgs(a)
				if err != nil {
					return nil, err
				}
				return NewTargetHealth(i, ta)
			}),
			NewProbe: func(inst provider.Instance, v cty.Value) (runbook.Probe, error) {
				ai, err := instanceOf("elbv2_target_health", inst)
				if err != nil {
					return nil, err
				}
				ta, err := targetHealthArgs(&ctyargs.Attrs{V: v, Where: "elbv2_target_health"})
				if err != nil {
					return nil, err
				}
				return NewTargetHealth(ai, ta)
			},
		},
	}
}

func objectExistsArgs(a *ctyargs.Attrs) (ObjectExistsArgs, error) {
	oa := ObjectExistsArgs{
		Bucket: a.Str("bucket"), Prefix: a.Str("prefix"), Pattern: a.Str("pattern"), Date: a.Str("date"),
		TimeZone: a.Str("time_zone"), Regexp: a.Str("regexp"), MaxAge: a.Duration("max_age"), MinSize: int64(a.Int("min_size")),
	}
	return oa, a.Err()
}

func targetHealthArgs(a *ctyargs.Attrs) (TargetHealthArgs, error) {
	ta := TargetHealthArgs{TargetGroupARN: a.Str("target_group_arn"), Others: a.Strs("target_group_arns")}
	if a.IsSet("min_healthy") {
		m := a.Int("min_healthy")
		ta.MinHealthy = &m
	}
	return ta, a.Err()
}
