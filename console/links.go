package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Link is what a signed approval link carries: the run, the gate, the plan
// hash the approver is asked about, who may use it and until when. The
// signature is an HMAC-SHA256 over every field with the console's link
// key, so none of them can be changed.
type Link struct {
	Run      string
	Gate     string
	PlanHash string
	As       string
	Expires  time.Time
}

// ErrBadLink is wrapped by every reason a signed link is refused.
var ErrBadLink = errors.New("console: invalid approval link")

func (l Link) payload() string {
	// Fields are escaped, so that no separator can be smuggled in.
	return strings.Join([]string{"handrail-approval-link-v1", url.QueryEscape(l.Run), url.QueryEscape(l.Gate),
		url.QueryEscape(l.PlanHash), url.QueryEscape(l.As), strconv.FormatInt(l.Expires.Unix(), 10)}, "|")
}

func (l Link) sign(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(l.payload()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Query returns the link's query string, signature included.
func (l Link) Query(key []byte) url.Values {
	return url.Values{
		"run":  {l.Run},
		"gate": {l.Gate},
		"plan": {l.PlanHash},
		"as":   {l.As},
		"exp":  {strconv.FormatInt(l.Expires.Unix(), 10)},
		"sig":  {l.sign(key)},
	}
}

// ParseLink checks a link's signature and expiry at now.
func ParseLink(q url.Values, key []byte, now time.Time) (Link, error) {
	exp, err := strconv.ParseInt(q.Get("exp"), 10, 64)
	if err != nil {
		return Link{}, fmt.Errorf("%w: no expiry", ErrBadLink)
	}
	l := Link{Run: q.Get("run"), Gate: q.Get("gate"), PlanHash: q.Get("plan"), As: q.Get("as"), Expires: time.Unix(exp, 0)}
	if l.Run == "" || l.Gate == "" || l.PlanHash == "" || l.As == "" {
		return Link{}, fmt.Errorf("%w: it must name a run, a gate, a plan hash and an approver", ErrBadLink)
	}
	got, err := base64.RawURLEncoding.DecodeString(q.Get("sig"))
	if err != nil {
		return Link{}, fmt.Errorf("%w: bad signature", ErrBadLink)
	}
	want, _ := base64.RawURLEncoding.DecodeString(l.sign(key))
	if !hmac.Equal(got, want) {
		return Link{}, fmt.Errorf("%w: the signature does not match (the link was changed, or made by another console)", ErrBadLink)
	}
	if now.After(l.Expires) {
		return Link{}, fmt.Errorf("%w: it expired at %s", ErrBadLink, l.Expires.UTC().Format(time.RFC3339))
	}
	return l, nil
}

// csrfFor derives the anti-forgery token of a link's form from its
// signature, so the form can only be posted by someone who saw the page.
func csrfFor(key []byte, sig string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("handrail-link-form|" + sig))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
