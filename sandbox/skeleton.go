package sandbox

import (
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	hhcl "github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/hcl"
)

// Skeleton returns the text of a test file (NAME.test.hcl) for the runbook
// file runbookFile whose plan shows nodes (hcl.Runbook.Describe): a world
// block with what the plan touches — the S3 buckets and objects, ELBv2
// rules and their target groups, docker images and containers, the
// PostgreSQL database, Prometheus queries and HTTP routes its steps,
// rollbacks and checks name — and one scenario expecting the release to
// succeed. Values the plan cannot tell (the image running now, a metric's
// value) are guesses marked TODO: the world is where a rehearsal starts,
// and only its author knows production. vars are -var values to keep in a
// variables block (never sensitive ones).
func Skeleton(runbookFile string, nodes []hcl.NodeView, vars map[string]string) []byte {
	s := newSkeleton()
	for _, n := range nodes {
		if n.Action != nil {
			s.call(*n.Action, "")
		}
		for _, r := range n.Rollbacks {
			s.call(r, "")
		}
		for _, c := range n.Checks {
			s.call(c.Probe, c.Threshold)
		}
	}
	return s.render(filepath.Base(runbookFile), vars)
}

// skeleton gathers what the plan touches, in first-seen order.
type skeleton struct {
	images     []string
	containers []*skContainer
	postgres   bool
	migrations string
	buckets    []string
	objects    [][2]string // bucket, key
	rules      []*skRule
	queries    []*skQuery
	routes     [][3]string // method, host, path
	seen       map[string]bool
}

type skContainer struct{ name, image, project, service string }

type skRule struct {
	arn    string
	groups []string
	first  map[string]float64
}

type skQuery struct {
	query, threshold string
}

func newSkeleton() *skeleton { return &skeleton{seen: map[string]bool{}} }

// once reports whether key is seen for the first time.
func (s *skeleton) once(key string) bool {
	if s.seen[key] {
		return false
	}
	s.seen[key] = true
	return true
}

// args parses a call's rendered arguments back into values; unknown and
// sensitive ones are left out.
func args(c hcl.Call) map[string]cty.Value {
	out := map[string]cty.Value{}
	for _, a := range c.Args {
		e, d := hclsyntax.ParseExpression([]byte(a.Value), "arg", hhcl.InitialPos)
		if d.HasErrors() {
			continue
		}
		v, d := e.Value(nil)
		if d.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
			continue
		}
		out[a.Name] = v
	}
	return out
}

func str(args map[string]cty.Value, name string) string {
	v, ok := args[name]
	if !ok || v.Type() != cty.String {
		return ""
	}
	return v.AsString()
}

func (s *skeleton) call(c hcl.Call, threshold string) {
	a := args(c)
	switch c.Action {
	case "s3_upload", "s3_download", "s3_object_exists":
		b := str(a, "bucket")
		if b == "" {
			return
		}
		if s.once("bucket " + b) {
			s.buckets = append(s.buckets, b)
		}
		key := str(a, "key")
		if c.Action == "s3_object_exists" {
			key = str(a, "prefix") + "TODO"
		}
		if c.Action != "s3_upload" && key != "" && s.once("object "+b+"/"+key) {
			s.objects = append(s.objects, [2]string{b, key})
		}
	case "elbv2_weights":
		arn := str(a, "rule_arn")
		w, ok := a["weights"]
		if arn == "" || !ok || !(w.Type().IsMapType() || w.Type().IsObjectType()) {
			return
		}
		var r *skRule
		for _, x := range s.rules {
			if x.arn == arn {
				r = x
			}
		}
		if r == nil {
			r = &skRule{arn: arn, first: map[string]float64{}}
			s.rules = append(s.rules, r)
			for k, v := range w.AsValueMap() {
				if v.Type() == cty.Number {
					f, _ := v.AsBigFloat().Float64()
					r.first[k] = f
				}
			}
		}
		var keys []string
		for k := range w.AsValueMap() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if s.once("tg " + arn + " " + k) {
				r.groups = append(r.groups, k)
			}
		}
	case "docker_pull", "docker_service_update":
		img := str(a, "image")
		if img != "" && s.once("image "+img) {
			s.images = append(s.images, img)
		}
		if c.Action == "docker_service_update" {
			s.container(a, previousImage(img))
		}
	case "docker_exec", "docker_inspect", "docker_logs_check":
		s.container(a, "")
	case "postgres_migrate", "postgres_query", "postgres_ping", "postgres_backup", "postgres_restore":
		s.postgres = true
		if d := str(a, "dir"); c.Action == "postgres_migrate" && d != "" {
			s.migrations = d
		}
	case "prometheus_query", "prometheus_baseline":
		if q := str(a, "query"); q != "" && s.once("query "+q) {
			s.queries = append(s.queries, &skQuery{query: q, threshold: threshold})
		}
	case "prometheus_compare":
		for _, n := range []string{"baseline", "canary"} {
			if q := str(a, n); q != "" && s.once("query "+q) {
				s.queries = append(s.queries, &skQuery{query: q})
			}
		}
	case "http_request", "http_check":
		u, err := url.Parse(str(a, "url"))
		if err != nil || str(a, "url") == "" {
			return
		}
		m := strings.ToUpper(str(a, "method"))
		if m == "" {
			m = "GET"
		}
		if s.once("route " + m + " " + u.Host + " " + u.Path) {
			s.routes = append(s.routes, [3]string{m, u.Hostname(), u.Path})
		}
	}
}

// container records the container a docker action names.
func (s *skeleton) container(a map[string]cty.Value, image string) {
	c := &skContainer{name: str(a, "container"), project: str(a, "project"), service: str(a, "service"), image: image}
	if c.name == "" && c.service != "" {
		c.name = c.service
		if c.project != "" {
			c.name = c.project + "-" + c.service
		}
	}
	if c.name == "" {
		return
	}
	for _, x := range s.containers {
		if x.name == c.name {
			if x.image == "" {
				x.image = image
			}
			return
		}
	}
	s.containers = append(s.containers, c)
}

// previousImage guesses the image running before a release: the same
// repository at tag "previous".
func previousImage(img string) string {
	if img == "" {
		return ""
	}
	repo := img
	if i := strings.LastIndex(img, ":"); i > strings.LastIndex(img, "/") {
		repo = img[:i]
	}
	return repo + ":previous"
}

// passing returns a value that holds for a simple threshold such as
// "self.value < 0.01" (half of it), "> 10" (twice it, plus one), "== 200",
// and whether the threshold was understood.
func passing(threshold string) (float64, bool) {
	t := strings.TrimSpace(threshold)
	for _, op := range []string{"<=", ">=", "==", "<", ">"} {
		i := strings.Index(t, op)
		if i < 0 {
			continue
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(t[i+len(op):]), 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, false
		}
		switch op {
		case "<":
			if n > 0 {
				return n / 2, true
			}
			return n - 1, true
		case ">":
			return n*2 + 1, true
		default:
			return n, true
		}
	}
	return 0, false
}

func (s *skeleton) render(runbookFile string, vars map[string]string) []byte {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(comment(fmt.Sprintf(`# Scenarios of %s, run against the fakes of every provider on a simulated
# clock: handrail test. The world block below is where every scenario and
# every "handrail apply --sandbox" rehearsal starts; it holds what the plan
# touches. Values marked TODO are guesses: make them what production holds
# now. Every block a world may hold is in the package documentation of
# handrail's sandbox (go doc github.com/handrail-dev/handrail/sandbox).
`, runbookFile)))
	body.SetAttributeValue("runbook", cty.StringVal(runbookFile))
	if len(vars) > 0 {
		body.AppendNewline()
		vb := body.AppendNewBlock("variables", nil).Body()
		names := make([]string, 0, len(vars))
		for k := range vars {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			vb.SetAttributeValue(k, cty.StringVal(vars[k]))
		}
	}
	body.AppendNewline()
	w := body.AppendNewBlock("world", nil).Body()
	if len(s.images) > 0 {
		var vals []cty.Value
		for _, i := range s.images {
			vals = append(vals, cty.StringVal(i))
		}
		w.AppendUnstructuredTokens(comment("# The images the release pulls: the registry has them.\n"))
		w.SetAttributeValue("docker_images", cty.ListVal(vals))
	}
	for _, c := range s.containers {
		w.AppendNewline()
		cb := w.AppendNewBlock("docker_container", nil).Body()
		cb.SetAttributeValue("name", cty.StringVal(c.name))
		img := c.image
		if img == "" {
			img = "TODO:the-image-running-now"
		}
		cb.SetAttributeValue("image", cty.StringVal(img))
		if c.project != "" {
			cb.SetAttributeValue("project", cty.StringVal(c.project))
		}
		if c.service != "" {
			cb.SetAttributeValue("service", cty.StringVal(c.service))
		}
		if strings.HasSuffix(img, ":previous") || strings.HasPrefix(img, "TODO") {
			cb.AppendUnstructuredTokens(comment("# TODO: the image running now\n"))
		}
	}
	if s.postgres {
		w.AppendNewline()
		pb := w.AppendNewBlock("postgres", nil).Body()
		what := "# TODO: production's schema version now (0: every migration runs)"
		if s.migrations != "" {
			what = fmt.Sprintf("# TODO: production's schema version now (0: every migration in %s runs)", s.migrations)
		}
		pb.AppendUnstructuredTokens(comment(what + "\n"))
		pb.SetAttributeValue("version", cty.NumberIntVal(0))
	}
	for _, b := range s.buckets {
		w.AppendNewline()
		w.AppendNewBlock("s3_bucket", nil).Body().SetAttributeValue("name", cty.StringVal(b))
	}
	for _, o := range s.objects {
		w.AppendNewline()
		ob := w.AppendNewBlock("s3_object", nil).Body()
		ob.SetAttributeValue("bucket", cty.StringVal(o[0]))
		ob.SetAttributeValue("key", cty.StringVal(o[1]))
		ob.SetAttributeValue("age", cty.StringVal("1h"))
	}
	for _, r := range s.rules {
		// Traffic now goes where the first change sends the most of it.
		top := ""
		for _, g := range r.groups {
			if top == "" || r.first[g] > r.first[top] {
				top = g
			}
		}
		weights := map[string]cty.Value{}
		for _, g := range r.groups {
			v := int64(0)
			if g == top {
				v = 100
			}
			weights[g] = cty.NumberIntVal(v)
		}
		w.AppendNewline()
		rb := w.AppendNewBlock("elbv2_rule", nil).Body()
		rb.AppendUnstructuredTokens(comment("# TODO: the weights in production now\n"))
		rb.SetAttributeValue("arn", cty.StringVal(r.arn))
		rb.SetAttributeValue("weights", cty.MapVal(weights))
	}
	for _, q := range s.queries {
		w.AppendNewline()
		qb := w.AppendNewBlock("prometheus", nil).Body()
		qb.SetAttributeValue("query", cty.StringVal(q.query))
		v, ok := passing(q.threshold)
		switch {
		case ok:
			qb.AppendUnstructuredTokens(comment(fmt.Sprintf("# TODO: a healthy value (the check holds when %s)\n", q.threshold)))
		case q.threshold != "":
			qb.AppendUnstructuredTokens(comment(fmt.Sprintf("# TODO: a value for which %s holds\n", q.threshold)))
		default:
			qb.AppendUnstructuredTokens(comment("# TODO: a healthy value\n"))
		}
		qb.SetAttributeValue("value", cty.NumberFloatVal(v))
	}
	for _, r := range s.routes {
		w.AppendNewline()
		hb := w.AppendNewBlock("http", nil).Body()
		if r[1] != "" {
			hb.SetAttributeValue("host", cty.StringVal(r[1]))
		}
		hb.SetAttributeValue("method", cty.StringVal(r[0]))
		hb.SetAttributeValue("path", cty.StringVal(r[2]))
		hb.SetAttributeValue("status", cty.NumberIntVal(200))
	}
	body.AppendNewline()
	sb := body.AppendNewBlock("scenario", []string{"happy"}).Body()
	sb.SetAttributeValue("description", cty.StringVal("Everything goes as planned."))
	eb := sb.AppendNewBlock("expect", nil).Body()
	eb.SetAttributeValue("status", cty.StringVal("succeeded"))
	return hclwrite.Format(f.Bytes())
}

func comment(text string) hclwrite.Tokens {
	return hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(text)}}
}
