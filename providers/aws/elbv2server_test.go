package aws_test

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// elbServer is an httptest server speaking the ELBv2 Query protocol as the
// SDK sends and parses it (see the module's request_snapshot/ and
// response_snapshot/): POST / with form fields Action=...&Version=2015-12-01,
// XML answers, errors as HTTP 400 <ErrorResponse>. It keeps rules, weights
// and target health in memory.
type elbServer struct {
	t   testing.TB
	srv *httptest.Server
	// key is the access key requests must be signed with.
	key string

	mu       sync.Mutex
	rules    map[string][]elbAction
	health   map[string][]elbTarget
	throttle map[string]int // Action -> answers left to throttle
	calls    map[string]int
	forms    []url.Values
}

type elbAction struct {
	Type       string
	Order      int
	TGs        []elbTG
	Sticky     *bool
	StickySecs int
	// OIDC holds an authenticate-oidc action's settings (field -> value).
	OIDC map[string]string
}

type elbTG struct {
	ARN    string
	Weight int
}

type elbTarget struct {
	ID, State, Reason string
	Port              int
}

func newELBServer(t testing.TB) *elbServer {
	s := &elbServer{t: t, key: "AKIDTEST", rules: map[string][]elbAction{}, health: map[string][]elbTarget{}, throttle: map[string]int{}, calls: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *elbServer) setRule(arn string, acts ...elbAction) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules[arn] = acts
	for _, a := range acts {
		for _, tg := range a.TGs {
			if _, ok := s.health[tg.ARN]; !ok {
				s.health[tg.ARN] = nil
			}
		}
	}
}

func (s *elbServer) weights(arn string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, a := range s.rules[arn] {
		for _, tg := range a.TGs {
			out[tg.ARN] = tg.Weight
		}
	}
	return out
}

func (s *elbServer) count(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

func (s *elbServer) lastForm(action string) url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.forms) - 1; i >= 0; i-- {
		if s.forms[i].Get("Action") == action {
			return s.forms[i]
		}
	}
	return nil
}

func (s *elbServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		s.fail(w, 400, "InvalidAction", "want POST /, got "+r.Method+" "+r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		s.fail(w, 400, "MalformedQueryString", "content type "+ct)
		return
	}
	s.mu.Lock()
	key := s.key
	s.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+key+"/") {
		s.fail(w, 403, "InvalidClientTokenId", "unsigned or wrong key")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, 400, "MalformedQueryString", err.Error())
		return
	}
	f := r.PostForm
	if f.Get("Version") != "2015-12-01" {
		s.fail(w, 400, "InvalidAction", "version "+f.Get("Version"))
		return
	}
	action := f.Get("Action")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[action]++
	s.forms = append(s.forms, f)
	if s.throttle[action] > 0 {
		s.throttle[action]--
		s.fail(w, 400, "Throttling", "Rate exceeded")
		return
	}
	switch action {
	case "DescribeRules":
		var rules []xmlRule
		for i := 1; ; i++ {
			arn := f.Get(fmt.Sprintf("RuleArns.member.%d", i))
			if arn == "" {
				break
			}
			acts, ok := s.rules[arn]
			if !ok {
				s.fail(w, 400, "RuleNotFound", "One or more rules not found")
				return
			}
			rules = append(rules, toXMLRule(arn, acts))
		}
		s.write(w, xmlDescribeRules{Rules: rules})
	case "ModifyRule":
		arn := f.Get("RuleArn")
		if _, ok := s.rules[arn]; !ok {
			s.fail(w, 400, "RuleNotFound", "One or more rules not found")
			return
		}
		acts, code, msg := s.parseActions(f)
		if code != "" {
			s.fail(w, 400, code, msg)
			return
		}
		s.rules[arn] = acts
		s.write(w, xmlModifyRule{Rules: []xmlRule{toXMLRule(arn, acts)}})
	case "DescribeTargetHealth":
		tg := f.Get("TargetGroupArn")
		ts, ok := s.health[tg]
		if !ok {
			s.fail(w, 400, "TargetGroupNotFound", "One or more target groups not found")
			return
		}
		var out xmlDescribeTargetHealth
		for _, t := range ts {
			d := xmlTHD{}
			d.Target.ID, d.Target.Port = t.ID, t.Port
			d.Health.State, d.Health.Reason = t.State, t.Reason
			out.Descriptions = append(out.Descriptions, d)
		}
		s.write(w, out)
	default:
		s.fail(w, 400, "InvalidAction", "unknown action "+action)
	}
}

// parseActions reads Actions.member.N.* as ModifyRule sends them.
func (s *elbServer) parseActions(f url.Values) ([]elbAction, string, string) {
	var acts []elbAction
	for i := 1; ; i++ {
		p := fmt.Sprintf("Actions.member.%d.", i)
		typ := f.Get(p + "Type")
		if typ == "" {
			break
		}
		a := elbAction{Type: typ}
		a.Order, _ = strconv.Atoi(f.Get(p + "Order"))
		switch typ {
		case "forward":
			if f.Get(p+"TargetGroupArn") != "" && f.Get(p+"ForwardConfig.TargetGroups.member.2.TargetGroupArn") != "" {
				return nil, "ValidationError", "TargetGroupArn and a ForwardConfig of several groups cannot both be given"
			}
			for j := 1; ; j++ {
				q := fmt.Sprintf("%sForwardConfig.TargetGroups.member.%d.", p, j)
				arn := f.Get(q + "TargetGroupArn")
				if arn == "" {
					break
				}
				wt, err := strconv.Atoi(f.Get(q + "Weight"))
				if err != nil || wt < 0 || wt > 999 {
					return nil, "ValidationError", "weight " + f.Get(q+"Weight") + " out of range"
				}
				if _, ok := s.health[arn]; !ok {
					return nil, "TargetGroupNotFound", "Target groups '" + arn + "' not found"
				}
				a.TGs = append(a.TGs, elbTG{ARN: arn, Weight: wt})
			}
			if len(a.TGs) == 0 {
				if arn := f.Get(p + "TargetGroupArn"); arn != "" {
					a.TGs = []elbTG{{ARN: arn, Weight: 1}}
				} else {
					return nil, "ValidationError", "a forward action needs target groups"
				}
			}
			if v := f.Get(p + "ForwardConfig.TargetGroupStickinessConfig.Enabled"); v != "" {
				b := v == "true"
				a.Sticky = &b
				a.StickySecs, _ = strconv.Atoi(f.Get(p + "ForwardConfig.TargetGroupStickinessConfig.DurationSeconds"))
			}
		case "authenticate-oidc":
			a.OIDC = map[string]string{}
			for k, v := range f {
				if rest, ok := strings.CutPrefix(k, p+"AuthenticateOidcConfig."); ok {
					a.OIDC[rest] = v[0]
				}
			}
			if a.OIDC["ClientSecret"] == "" && a.OIDC["UseExistingClientSecret"] != "true" {
				return nil, "ValidationError", "ClientSecret is required unless UseExistingClientSecret is true"
			}
		}
		acts = append(acts, a)
	}
	return acts, "", ""
}

func (s *elbServer) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>req-1</RequestId></ErrorResponse>`, code, msg)
}

func (s *elbServer) write(w http.ResponseWriter, result any) {
	w.Header().Set("Content-Type", "text/xml")
	b, err := xml.Marshal(result)
	if err != nil {
		s.t.Errorf("elbServer: %v", err)
		return
	}
	_, _ = w.Write(b)
}

// ---- XML shapes of the responses ----

type xmlRule struct {
	RuleArn   string       `xml:"RuleArn"`
	Priority  string       `xml:"Priority"`
	IsDefault bool         `xml:"IsDefault"`
	Actions   []xmlAction  `xml:"Actions>member"`
	Conds     []xmlPathCnd `xml:"Conditions>member"`
}

type xmlPathCnd struct {
	Field  string   `xml:"Field"`
	Values []string `xml:"Values>member"`
}

type xmlAction struct {
	Type           string     `xml:"Type"`
	Order          int        `xml:"Order,omitempty"`
	TargetGroupArn string     `xml:"TargetGroupArn,omitempty"`
	ForwardConfig  *xmlFwd    `xml:"ForwardConfig,omitempty"`
	Oidc           *xmlOidcCf `xml:"AuthenticateOidcConfig,omitempty"`
}

type xmlOidcCf struct {
	Issuer                string `xml:"Issuer"`
	AuthorizationEndpoint string `xml:"AuthorizationEndpoint"`
	TokenEndpoint         string `xml:"TokenEndpoint"`
	UserInfoEndpoint      string `xml:"UserInfoEndpoint"`
	ClientID              string `xml:"ClientId"`
}

type xmlFwd struct {
	TGs    []xmlTG    `xml:"TargetGroups>member"`
	Sticky *xmlSticky `xml:"TargetGroupStickinessConfig,omitempty"`
}

type xmlSticky struct {
	Enabled         bool `xml:"Enabled"`
	DurationSeconds int  `xml:"DurationSeconds,omitempty"`
}

type xmlTG struct {
	Arn    string `xml:"TargetGroupArn"`
	Weight int    `xml:"Weight"`
}

func toXMLRule(arn string, acts []elbAction) xmlRule {
	r := xmlRule{RuleArn: arn, Priority: "10", Conds: []xmlPathCnd{{Field: "path-pattern", Values: []string{"/api/*"}}}}
	for _, a := range acts {
		x := xmlAction{Type: a.Type, Order: a.Order}
		if a.Type == "forward" {
			x.ForwardConfig = &xmlFwd{}
			for _, tg := range a.TGs {
				x.ForwardConfig.TGs = append(x.ForwardConfig.TGs, xmlTG{Arn: tg.ARN, Weight: tg.Weight})
			}
			if len(a.TGs) == 1 {
				x.TargetGroupArn = a.TGs[0].ARN
			}
			if a.Sticky != nil {
				x.ForwardConfig.Sticky = &xmlSticky{Enabled: *a.Sticky, DurationSeconds: a.StickySecs}
			}
		}
		if a.OIDC != nil {
			x.Oidc = &xmlOidcCf{Issuer: a.OIDC["Issuer"], AuthorizationEndpoint: a.OIDC["AuthorizationEndpoint"],
				TokenEndpoint: a.OIDC["TokenEndpoint"], UserInfoEndpoint: a.OIDC["UserInfoEndpoint"], ClientID: a.OIDC["ClientId"]}
		}
		r.Actions = append(r.Actions, x)
	}
	sort.SliceStable(r.Actions, func(i, j int) bool { return r.Actions[i].Order < r.Actions[j].Order })
	return r
}

type xmlDescribeRules struct {
	XMLName xml.Name  `xml:"DescribeRulesResponse"`
	Xmlns   string    `xml:"xmlns,attr"`
	Rules   []xmlRule `xml:"DescribeRulesResult>Rules>member"`
	ReqID   string    `xml:"ResponseMetadata>RequestId"`
}

type xmlModifyRule struct {
	XMLName xml.Name  `xml:"ModifyRuleResponse"`
	Rules   []xmlRule `xml:"ModifyRuleResult>Rules>member"`
	ReqID   string    `xml:"ResponseMetadata>RequestId"`
}

type xmlTHD struct {
	Target struct {
		ID   string `xml:"Id"`
		Port int    `xml:"Port"`
	} `xml:"Target"`
	HealthCheckPort string `xml:"HealthCheckPort"`
	Health          struct {
		State  string `xml:"State"`
		Reason string `xml:"Reason,omitempty"`
	} `xml:"TargetHealth"`
}

type xmlDescribeTargetHealth struct {
	XMLName      xml.Name `xml:"DescribeTargetHealthResponse"`
	Descriptions []xmlTHD `xml:"DescribeTargetHealthResult>TargetHealthDescriptions>member"`
	ReqID        string   `xml:"ResponseMetadata>RequestId"`
}
