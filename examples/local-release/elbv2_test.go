package localrelease_test

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// elbServer is a small Elastic Load Balancing v2 endpoint on httptest: the
// Query protocol as the AWS SDK speaks it (POST / with form fields
// Action=...&Version=2015-12-01, XML answers, errors as HTTP 400
// <ErrorResponse>), for the two calls the elbv2_weights action makes
// (DescribeRules, ModifyRule). It keeps one listener rule with one forward
// action in memory and records every change of weights.
//
// providers/aws/awsfake is an in-memory client with no HTTP face; the
// aws provider's own Query-protocol test server lives in a _test.go file of
// package aws_test and cannot be imported, hence this one.
type elbServer struct {
	srv *httptest.Server
	key string // access key requests must be signed with

	mu      sync.Mutex
	rule    string
	tgs     []elbTG
	changes []map[string]int
}

type elbTG struct {
	ARN    string
	Weight int
}

func newELBServer(t *testing.T, key, rule string, tgs ...elbTG) *elbServer {
	t.Helper()
	s := &elbServer{key: key, rule: rule, tgs: tgs}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to give the aws provider (elbv2_endpoint).
func (s *elbServer) URL() string { return s.srv.URL }

// weights returns the rule's weights by target group ARN.
func (s *elbServer) weights() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return toMap(s.tgs)
}

// history returns every set of weights ModifyRule installed, in order.
func (s *elbServer) history() []map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]int(nil), s.changes...)
}

func toMap(tgs []elbTG) map[string]int {
	out := map[string]int{}
	for _, tg := range tgs {
		out[tg.ARN] = tg.Weight
	}
	return out
}

func (s *elbServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		elbFail(w, http.StatusBadRequest, "InvalidAction", "want POST /")
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential="+s.key+"/") {
		elbFail(w, http.StatusForbidden, "InvalidClientTokenId", "unsigned request or unknown access key")
		return
	}
	if err := r.ParseForm(); err != nil {
		elbFail(w, http.StatusBadRequest, "MalformedQueryString", err.Error())
		return
	}
	f := r.PostForm
	if f.Get("Version") != "2015-12-01" {
		elbFail(w, http.StatusBadRequest, "InvalidAction", "unknown version "+f.Get("Version"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch f.Get("Action") {
	case "DescribeRules":
		if f.Get("RuleArns.member.1") != s.rule || f.Get("RuleArns.member.2") != "" {
			elbFail(w, http.StatusBadRequest, "RuleNotFound", "One or more rules not found")
			return
		}
		elbWrite(w, xmlDescribeRules{Rules: []xmlRule{s.xmlRule()}})
	case "ModifyRule":
		if f.Get("RuleArn") != s.rule {
			elbFail(w, http.StatusBadRequest, "RuleNotFound", "One or more rules not found")
			return
		}
		tgs, msg := parseForward(f, toMap(s.tgs))
		if msg != "" {
			elbFail(w, http.StatusBadRequest, "ValidationError", msg)
			return
		}
		s.tgs = tgs
		s.changes = append(s.changes, toMap(tgs))
		elbWrite(w, xmlModifyRule{Rules: []xmlRule{s.xmlRule()}})
	default:
		elbFail(w, http.StatusBadRequest, "InvalidAction", "this fake answers DescribeRules and ModifyRule only, not "+f.Get("Action"))
	}
}

// parseForward reads the one forward action of a ModifyRule call
// (Actions.member.1.ForwardConfig.TargetGroups.member.N.*); known lists the
// target groups that exist.
func parseForward(f url.Values, known map[string]int) ([]elbTG, string) {
	if typ := f.Get("Actions.member.1.Type"); typ != "forward" || f.Get("Actions.member.2.Type") != "" {
		return nil, "this fake's rule has exactly one forward action"
	}
	var tgs []elbTG
	for j := 1; ; j++ {
		q := fmt.Sprintf("Actions.member.1.ForwardConfig.TargetGroups.member.%d.", j)
		arn := f.Get(q + "TargetGroupArn")
		if arn == "" {
			break
		}
		if _, ok := known[arn]; !ok {
			return nil, "target group " + arn + " not found"
		}
		wt, err := strconv.Atoi(f.Get(q + "Weight"))
		if err != nil || wt < 0 || wt > 999 {
			return nil, "weight " + f.Get(q+"Weight") + " out of range"
		}
		tgs = append(tgs, elbTG{ARN: arn, Weight: wt})
	}
	if len(tgs) == 0 {
		return nil, "a forward action needs target groups"
	}
	return tgs, ""
}

func (s *elbServer) xmlRule() xmlRule {
	fwd := &xmlFwd{}
	for _, tg := range s.tgs {
		fwd.TGs = append(fwd.TGs, xmlTG(tg))
	}
	return xmlRule{RuleArn: s.rule, Priority: "10", Actions: []xmlAction{{Type: "forward", Order: 1, ForwardConfig: fwd}}}
}

func elbFail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(msg))
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>local-1</RequestId></ErrorResponse>`, code, b.String())
}

func elbWrite(w http.ResponseWriter, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		elbFail(w, http.StatusInternalServerError, "InternalFailure", err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write(b)
}

// XML shapes of the answers.

type xmlRule struct {
	RuleArn   string      `xml:"RuleArn"`
	Priority  string      `xml:"Priority"`
	IsDefault bool        `xml:"IsDefault"`
	Actions   []xmlAction `xml:"Actions>member"`
}

type xmlAction struct {
	Type          string  `xml:"Type"`
	Order         int     `xml:"Order,omitempty"`
	ForwardConfig *xmlFwd `xml:"ForwardConfig,omitempty"`
}

type xmlFwd struct {
	TGs []xmlTG `xml:"TargetGroups>member"`
}

type xmlTG struct {
	ARN    string `xml:"TargetGroupArn"`
	Weight int    `xml:"Weight"`
}

type xmlDescribeRules struct {
	XMLName xml.Name  `xml:"DescribeRulesResponse"`
	Rules   []xmlRule `xml:"DescribeRulesResult>Rules>member"`
	ReqID   string    `xml:"ResponseMetadata>RequestId"`
}

type xmlModifyRule struct {
	XMLName xml.Name  `xml:"ModifyRuleResponse"`
	Rules   []xmlRule `xml:"ModifyRuleResult>Rules>member"`
	ReqID   string    `xml:"ResponseMetadata>RequestId"`
}
