package stack

import (
	"strings"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awseventstargets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/chatsend/chatsend/shared/resources"
)

// addBilling adds Stripe billing: the Stripe secret, the stripe-webhook
// function on POST /stripe/webhook, and the daily reconciliation. api also
// reads the secret (checkout and portal).
func (b *builder) addBilling(httpAPI awsapigatewayv2.HttpApi, api awslambda.Function) {
	// The Stripe API key and webhook signing secrets, as JSON
	// {"api_key": "sk_…", "webhook_secrets": ["whsec_…"]}. CloudFormation
	// creates it with empty values (the generated key is unused); the
	// operator puts the real ones in after deploying. Functions get only
	// the ARN and read the value at start.
	secret := awssecretsmanager.NewSecret(b.stack, jsii.String("StripeSecret"), &awssecretsmanager.SecretProps{
		Description: jsii.String("ChatSend " + b.props.Stage + ": Stripe API key and webhook signing secrets (JSON)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			SecretStringTemplate: jsii.String(`{"api_key":"","webhook_secrets":[]}`),
			GenerateStringKey:    jsii.String("unused"),
			ExcludePunctuation:   jsii.Bool(true),
		},
		RemovalPolicy: b.removal,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("Stripe keys are rolled in the Stripe dashboard (webhook secrets overlap during a roll); " +
			"Secrets Manager cannot rotate them"),
	}}, jsii.Bool(true))

	webhook := b.goFunction("stripe-webhook", 29*time.Second)
	reconcile := b.goFunction("billing-reconcile", 10*time.Minute)
	for _, fn := range []awslambda.Function{api, webhook, reconcile} {
		secret.GrantRead(fn, nil)
		fn.AddEnvironment(jsii.String("CHATSEND_STRIPE_SECRET_ARN"), secret.SecretArn(), nil)
		for plan, price := range b.props.StripePrices {
			if price == "" {
				continue
			}
			fn.AddEnvironment(jsii.String("CHATSEND_STRIPE_PRICE_"+strings.ToUpper(plan)), jsii.String(price), nil)
		}
	}
	for _, fn := range []awslambda.Function{webhook, reconcile} {
		b.grantReadWriteTable(fn)
		// Status changes emit webhooks; campaigns paused or resumed for
		// billing queue fan-out jobs and send wake-ups.
		b.grantSend(fn, resources.QueueWebhooks, resources.QueueCampaignJobs, resources.QueueSend)
	}

	routes := httpAPI.AddRoutes(&awsapigatewayv2.AddRoutesOptions{
		Path:    jsii.String("/stripe/webhook"),
		Methods: &[]awsapigatewayv2.HttpMethod{awsapigatewayv2.HttpMethod_POST},
		Integration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("StripeWebhookIntegration"), webhook,
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0()}),
	})
	for _, r := range *routes {
		cdknag.NagSuppressions_AddResourceSuppressions(r, &[]*cdknag.NagPackSuppression{{
			Id:     jsii.String("AwsSolutions-APIG4"),
			Reason: jsii.String("Stripe cannot authenticate to API Gateway; every event is verified by its Stripe-Signature (HMAC) in the function"),
		}}, jsii.Bool(true))
	}

	awsevents.NewRule(b.stack, jsii.String("BillingReconcileSchedule"), &awsevents.RuleProps{
		// Hourly: besides repairing missed webhooks, it pauses the running
		// campaigns of accounts whose past-due grace period ended (an end
		// no Stripe event announces), so they stop within the hour.
		Description: jsii.String("ChatSend " + b.set.Stage + ": hourly re-sync of every subscription from Stripe"),
		Schedule:    awsevents.Schedule_Cron(&awsevents.CronOptions{Minute: jsii.String("17")}),
		Targets:     &[]awsevents.IRuleTarget{awseventstargets.NewLambdaFunction(reconcile, &awseventstargets.LambdaFunctionProps{RetryAttempts: jsii.Number(2)})},
	})
	awscdk.NewCfnOutput(b.stack, jsii.String("StripeWebhookPath"), &awscdk.CfnOutputProps{
		Value:       jsii.String("/stripe/webhook"),
		Description: jsii.String("Register <ApiURL>stripe/webhook as the Stripe webhook endpoint (API version 2023-10-16)"),
	})
}
