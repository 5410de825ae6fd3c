package release2

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/handrail-dev/handrail/provider"
	"github.com/handrail-dev/handrail/providers/aws"
	"github.com/handrail-dev/handrail/providers/docker"
	"github.com/handrail-dev/handrail/providers/email"
	"github.com/handrail-dev/handrail/providers/exec"
	httpprov "github.com/handrail-dev/handrail/providers/http"
	"github.com/handrail-dev/handrail/providers/postgres"
	"github.com/handrail-dev/handrail/providers/prometheus"
	"github.com/handrail-dev/handrail/providers/slack"
	"github.com/handrail-dev/handrail/providers/ssh"
	"github.com/handrail-dev/handrail/providers/statuspage"
	"github.com/handrail-dev/handrail/sandbox/manual"
)

// Configure configures the runbook's provider instances through reg, as
// the provider blocks of release-2.hcl do: with the standard providers they
// act on the real world, with a sandbox world's registry on its fakes.
func Configure(ctx context.Context, reg *provider.Registry, c Config) (Instances, error) {
	var in Instances
	var err error
	conf := func(typ, name string, attrs map[string]cty.Value) provider.Instance {
		if err != nil {
			return nil
		}
		p, ok := reg.Provider(typ)
		if !ok {
			err = fmt.Errorf("release-2: no %q provider in the registry", typ)
			return nil
		}
		// Every attribute of the schema, null unless given.
		m := map[string]cty.Value{}
		for n, a := range p.ConfigSchema() {
			m[n] = cty.NullVal(a.Type)
		}
		for k, v := range attrs {
			m[k] = v
		}
		var inst provider.Instance
		inst, err = p.Configure(ctx, name, cty.ObjectVal(m))
		if err != nil {
			err = fmt.Errorf("release-2: provider %s.%s: %w", typ, name, err)
		}
		return inst
	}
	str := cty.StringVal
	sshOf := func(name, host string) ssh.Client {
		inst := conf("ssh", name, map[string]cty.Value{"host": str(host), "user": str(c.SSHUser)})
		if cl, ok := inst.(ssh.Client); ok {
			return cl
		}
		if err == nil {
			err = fmt.Errorf("release-2: ssh.%s is a %T, not an ssh client", name, inst)
		}
		return nil
	}
	in.LB = sshOf("lb", c.LBHost)
	in.App = sshOf("app", c.AppHost)
	in.DB = sshOf("db", c.DBHost)
	if in.App != nil {
		in.Docker, _ = conf("docker", "app", map[string]cty.Value{"via": provider.InstanceVal(in.App)}).(*docker.Instance)
	}
	in.Postgres, _ = conf("postgres", "dcmms", map[string]cty.Value{"dsn": str(c.DatabaseURL.Reveal())}).(*postgres.Instance)
	in.AWS, _ = conf("aws", "prod", map[string]cty.Value{"region": str(c.AWSRegion)}).(*aws.Instance)
	in.Site, _ = conf("http", "site", map[string]cty.Value{"base_url": str(c.SiteURL), "timeout": str("10s")}).(*httpprov.Instance)
	in.Staging, _ = conf("http", "staging", map[string]cty.Value{"base_url": str(c.StagingURL), "timeout": str("10s")}).(*httpprov.Instance)
	in.Prometheus, _ = conf("prometheus", "main", map[string]cty.Value{"url": str(c.PrometheusURL)}).(*prometheus.Instance)
	in.Statuspage, _ = conf("statuspage", "dcmms", map[string]cty.Value{"page_id": str(c.StatuspagePageID), "api_key": str(c.StatuspageAPIKey.Reveal())}).(*statuspage.Instance)
	in.Slack, _ = conf("slack", "deploy", map[string]cty.Value{"webhook_url": str(c.SlackWebhookURL.Reveal()), "channel": str("#deployment-release-2")}).(*slack.Instance)
	in.Email, _ = conf("email", "ops", map[string]cty.Value{"host": str(c.SMTPHost), "from": str(c.SMTPFrom)}).(*email.Instance)
	in.Exec, _ = conf("exec", "local", nil).(exec.Runner)
	in.Team, _ = conf("manual", "team", nil).(*manual.Instance)
	if err != nil {
		return Instances{}, err
	}
	for name, ok := range map[string]bool{"docker.app": in.Docker != nil, "postgres.dcmms": in.Postgres != nil, "aws.prod": in.AWS != nil,
		"http.site": in.Site != nil, "http.staging": in.Staging != nil, "prometheus.main": in.Prometheus != nil, "statuspage.dcmms": in.Statuspage != nil,
		"slack.deploy": in.Slack != nil, "email.ops": in.Email != nil, "exec.local": in.Exec != nil, "manual.team": in.Team != nil} {
		if !ok {
			return Instances{}, fmt.Errorf("release-2: provider %s configured an instance of an unexpected type", name)
		}
	}
	return in, nil
}
