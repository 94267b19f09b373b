// Command infra is ChatSend's CDK app: `go run ./infra` (or `cdk synth`)
// synthesizes the stack of CHATSEND_STAGE (default "dev") into cdk.out, with
// the Lambda binaries taken from CHATSEND_FUNCTIONS_DIR/<name>/bootstrap.
package main

import (
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/chatsend/chatsend/infra/stack"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(env("CDK_OUTDIR", "cdk.out"))}) // the cdk CLI sets CDK_OUTDIR
	stage := env("CHATSEND_STAGE", "dev")
	stack.New(app, "ChatSend-"+stage, stack.Props{Stage: stage, FunctionsDir: env("CHATSEND_FUNCTIONS_DIR", ".build/functions"),
		StripePrices: map[string]string{"starter": env("CHATSEND_STRIPE_PRICE_STARTER", ""), "pro": env("CHATSEND_STRIPE_PRICE_PRO", "")}})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	app.Synth(nil)
}

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
