package httpclient_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/handrail-dev/handrail/provider/httpclient"
)

// A provider instance holds one Client: the Doer given to the provider (a
// fake) or, as here, a net/http client built from the block's TLS
// arguments on the first request. Errors never carry the request URL.
func ExampleClient() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from "+r.Header.Get("User-Agent"))
	}))
	defer srv.Close()

	c := httpclient.New("web.app", nil, httpclient.TLS{})
	defer c.Close()
	req, _ := httpclient.NewRequest(context.Background(), http.MethodGet, srv.URL+"/?token=s3cr3t", nil)
	resp, err := c.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	body, _ := httpclient.ReadBody(resp.Body, 1<<10)
	fmt.Println(string(body))
	fmt.Println(httpclient.RedactURL("https://ops:pw@dcmms.com/api?token=s3cr3t&page=2"))
	// Output:
	// hello from handrail
	// https://%28sensitive%29@dcmms.com/api?page=2&token=(sensitive)
}
