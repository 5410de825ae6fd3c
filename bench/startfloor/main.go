// Command startfloor is the start-up floor of the CLI benchmarks: a program
// that links the dependencies Handrail is required to use (the AWS SDK's
// config, S3 and ELBv2 clients, the moby client, pgx, x/crypto/ssh, HCL and
// go-cty), runs their package initialisers, prints one line and exits. The
// CLI cannot start faster than this without dropping one of them, so
// `handrail version` is compared with it as well as with bench/trivial.
package main

import (
	"fmt"
	"os"

	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/hashicorp/hcl/v2"
	_ "github.com/hashicorp/hcl/v2/ext/tryfunc"
	_ "github.com/hashicorp/hcl/v2/ext/typeexpr"
	_ "github.com/hashicorp/hcl/v2/hcldec"
	_ "github.com/hashicorp/hcl/v2/hclsyntax"
	_ "github.com/hashicorp/hcl/v2/hclwrite"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/moby/moby/client"
	_ "github.com/zclconf/go-cty/cty"
	_ "github.com/zclconf/go-cty/cty/function/stdlib"
	_ "github.com/zclconf/go-cty/cty/json"
	_ "golang.org/x/crypto/ssh"
	_ "golang.org/x/crypto/ssh/agent"
	_ "golang.org/x/crypto/ssh/knownhosts"
)

func main() {
	fmt.Fprintln(os.Stdout, "startfloor 0")
}
