package runbook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/handrail-dev/handrail/runbook"
)

// The expected encodings below were produced outside Go (coreutils base64
// and xxd, Python's urllib.parse and json), not by the code under test.
const redactCanary = `hunter2/p@ss+w0rd&x=<y>"q"`

func TestRedactorEncodedForms(t *testing.T) {
	r := runbook.NewRedactor(redactCanary)
	cases := map[string]string{
		"plain":              redactCanary,
		"query escape":       "hunter2%2Fp%40ss%2Bw0rd%26x%3D%3Cy%3E%22q%22",
		"query escape lower": "hunter2%2fp%40ss%2bw0rd%26x%3d%3cy%3e%22q%22",
		"path escape":        "hunter2%2Fp@ss+w0rd&x=%3Cy%3E%22q%22",
		"json":               `hunter2/p@ss+w0rd&x=<y>\"q\"`,
		"json html-escaped":  `hunter2/p@ss+w0rd\u0026x=\u003cy\u003e\"q\"`,
		"base64 std":         "aHVudGVyMi9wQHNzK3cwcmQmeD08eT4icSI=",
		"base64 raw":         "aHVudGVyMi9wQHNzK3cwcmQmeD08eT4icSI",
		"hex lower":          "68756e746572322f704073732b7730726426783d3c793e227122",
		"hex upper":          "68756E746572322F704073732B7730726426783D3C793E227122",
		// base64("user:" + secret): the secret sits at another byte
		// alignment inside a longer base64 text (HTTP Basic auth).
		"base64 embedded": "Authorization: Basic dXNlcjpodW50ZXIyL3BAc3MrdzByZCZ4PTx5PiJxIg==",
	}
	for name, text := range cases {
		t.Run(name, func(t *testing.T) {
			got := r.Redact("before " + text + " after")
			assert.Contains(t, got, "(sensitive)")
			// No fragment long enough to rebuild the secret survives.
			for _, frag := range []string{"hunter2", "aHVudGVy", "68756e74", "68756E74", "dW50ZXIy", "0cmQmeD08"} {
				assert.NotContains(t, got, frag)
			}
			assert.True(t, strings.HasPrefix(got, "before "), got)
			assert.True(t, strings.HasSuffix(got, " after"), got)
		})
	}
}

func TestRedactorBase64URLAlphabet(t *testing.T) {
	// 0xfb 0xff 0xbf encodes to "+/+/" (std) and "-_-_" (url); with text
	// around it every alignment is tried.
	secret := "\xfb\xff\xbf\xfb\xff\xbf\xfb\xff\xbfabc"
	r := runbook.NewRedactor(secret)
	assert.Equal(t, "(sensitive)", r.Redact("-_-_-_-_-_-_YWJj"))
	assert.Equal(t, "(sensitive)", r.Redact("+/+/+/+/+/+/YWJj"))
}

func TestRedactorShortSecrets(t *testing.T) {
	r := runbook.NewRedactor("ab", "x", "")
	assert.Equal(t, 2, r.Unredactable())
	assert.Equal(t, "ab x abc", r.Redact("ab x abc"), "short secrets are not replaced")
	require.ErrorIs(t, runbook.CheckSecret("ab"), runbook.ErrShortSecret)
	assert.NotContains(t, runbook.CheckSecret("ab").Error(), "ab ")
	assert.NoError(t, runbook.CheckSecret(""))
	assert.NoError(t, runbook.CheckSecret("abc"))
	r.Add("abc")
	assert.Equal(t, "(sensitive)", r.Redact("abc"))
}

type inner struct {
	Token string            `json:"token"`
	Tags  map[string]string `json:"tags"`
	N     int               `json:"n"`
}

type myString string

func TestRedactValueStructures(t *testing.T) {
	const s = "tok-7f3a9c"
	r := runbook.NewRedactor(s)
	in := map[string]any{
		"headers":  map[string]string{"Authorization": "Bearer " + s},
		"list":     []map[string]string{{"k": s}},
		"struct":   inner{Token: s, Tags: map[string]string{"t": s}, N: 3},
		"ptr":      &inner{Token: s},
		"named":    myString(s),
		"ints":     map[string]int{"a": 1},
		"err":      fmt.Errorf("dial: password %s refused", s),
		"bytes":    []byte("x=" + s),
		"array":    [2]string{s, "ok"},
		"nested":   map[string]map[string][]string{"a": {"b": {s}}},
		"secret":   runbook.NewSecret("whatever"),
		"n":        42,
		"anyslice": []any{s, 1, map[string]string{"x": s}},
	}
	out := r.RedactValue(in)
	b, err := json.Marshal(out)
	require.NoError(t, err)
	assert.NotContains(t, string(b), s)
	assert.NotContains(t, string(b), "whatever")
	assert.Contains(t, string(b), `"Authorization":"Bearer (sensitive)"`)
	assert.Contains(t, string(b), `"n":42`)
	assert.Contains(t, string(b), `"ints":{"a":1}`)
	// The input is not changed.
	assert.Equal(t, "Bearer "+s, in["headers"].(map[string]string)["Authorization"])
	assert.Equal(t, map[string]string{"x": "(sensitive)"}, r.RedactValue(map[string]string{"x": s}))

	cyc := map[string]any{}
	cyc["self"] = cyc
	assert.NotPanics(t, func() { r.RedactValue(cyc) })
}

func TestRedactHandlerErrorsAndStructs(t *testing.T) {
	const s = "pw-91bd2e"
	var buf bytes.Buffer
	env := runbook.NewEnv(runbook.EnvConfig{Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	env.AddSecret(s)
	env.Logger().Info("connect", "err", errors.New("auth "+s+" failed"), "cfg", inner{Token: s},
		"m", map[string]string{"p": s}, slog.Group("g", "v", s))
	require.NotEmpty(t, buf.String())
	assert.NotContains(t, buf.String(), s)
	assert.Contains(t, buf.String(), "auth (sensitive) failed")
}
