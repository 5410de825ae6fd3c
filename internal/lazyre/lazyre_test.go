package lazyre_test

import (
	"fmt"
	"reflect"
	"regexp"
	"sync"
	"testing"

	"github.com/handrail-dev/handrail/internal/lazyre"
)

func Example() {
	version := lazyre.New(`^v?(\d+)\.(\d+)\.(\d+)$`) // nothing compiled yet
	fmt.Println(version.FindStringSubmatch("v0.3.1"))
	// Output: [v0.3.1 0 3 1]
}

// Every method gives what the compiled expression gives.
func TestSameAsRegexp(t *testing.T) {
	const expr = `(?i)(\w+)@(\w+)\.com`
	const s = "Ann@Example.com, bob@test.com and nobody"
	l, re := lazyre.New(expr), regexp.MustCompile(expr)
	got := []any{l.MatchString(s), l.FindString(s), l.FindStringSubmatch(s), l.FindStringSubmatchIndex(s),
		l.FindAllString(s, -1), l.FindAllStringIndex(s, 1), l.FindAllStringSubmatch(s, -1), l.FindAllStringSubmatchIndex(s, -1), l.ReplaceAllString(s, "<$2:$1>"), l.Split(s, -1), l.String()}
	want := []any{re.MatchString(s), re.FindString(s), re.FindStringSubmatch(s), re.FindStringSubmatchIndex(s),
		re.FindAllString(s, -1), re.FindAllStringIndex(s, 1), re.FindAllStringSubmatch(s, -1), re.FindAllStringSubmatchIndex(s, -1), re.ReplaceAllString(s, "<$2:$1>"), re.Split(s, -1), re.String()}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}

// An invalid expression costs nothing until used, then panics as
// regexp.MustCompile does.
func TestCompiledOnFirstUse(t *testing.T) {
	bad := lazyre.New(`(unclosed`)
	if bad.String() != `(unclosed` {
		t.Fatal(bad.String())
	}
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on first use of an invalid expression")
		}
	}()
	bad.MatchString("x")
}

// Concurrent first uses compile once and agree.
func TestConcurrentFirstUse(t *testing.T) {
	l := lazyre.New(`a+`)
	var wg sync.WaitGroup
	res := make([]*regexp.Regexp, 8)
	for i := range res {
		wg.Go(func() { res[i] = l.Regexp() })
	}
	wg.Wait()
	for _, r := range res {
		if r != res[0] || r == nil {
			t.Fatal("compiled more than once")
		}
	}
}
