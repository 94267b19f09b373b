package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigatewayv2integrations"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// Default-stage throttling: a ceiling for the whole API that protects the
// table and the account's Lambda concurrency; per-tenant limits are the
// API's own business.
const (
	throttleRate  = 50
	throttleBurst = 100
)

// accessLogFormat is one JSON line per request with HTTP API context
// variables; it must contain $context.requestId.
const accessLogFormat = `{"request_id":"$context.requestId","ip":"$context.identity.sourceIp",` +
	`"time":"$context.requestTime","method":"$context.httpMethod","path":"$context.path",` +
	`"route":"$context.routeKey","status":"$context.status","protocol":"$context.protocol",` +
	`"response_length":"$context.responseLength","latency_ms":"$context.responseLatency",` +
	`"integration_latency_ms":"$context.integrationLatency","integration_error":"$context.integrationErrorMessage"}`

// accessLogSettings implements awsapigatewayv2.IAccessLogSettings.
type accessLogSettings struct {
	destination awsapigatewayv2.IAccessLogDestination
	format      awsapigateway.AccessLogFormat
}

func (s *accessLogSettings) Destination() awsapigatewayv2.IAccessLogDestination { return s.destination }
func (s *accessLogSettings) Format() awsapigateway.AccessLogFormat              { return s.format }

// addHTTPAPI puts an HTTP API in front of fn: the $default route sends every
// method and path (payload format 2.0) to the function, whose own router
// answers, including 404s. The API URL is a stack output.
func (b *builder) addHTTPAPI(fn awslambda.IFunction) {
	api := awsapigatewayv2.NewHttpApi(b.stack, jsii.String("HttpApi"), &awsapigatewayv2.HttpApiProps{
		ApiName:     jsii.String("chatsend-" + b.set.Stage),
		Description: jsii.String("ChatSend " + b.set.Stage + " public API"),
		DefaultIntegration: awsapigatewayv2integrations.NewHttpLambdaIntegration(jsii.String("ApiIntegration"), fn,
			&awsapigatewayv2integrations.HttpLambdaIntegrationProps{
				PayloadFormatVersion: awsapigatewayv2.PayloadFormatVersion_VERSION_2_0(),
			}),
		// The default stage is added below, with throttling and access logs.
		CreateDefaultStage: jsii.Bool(false),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(api, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-APIG4"),
		Reason: jsii.String("authorization is done in the api Lambda with API keys (Authorization: Bearer) " +
			"and session cookies; signup, login, /healthz, /docs and Stripe webhooks must stay reachable"),
	}}, jsii.Bool(true))

	logs := awslogs.NewLogGroup(b.stack, jsii.String("HttpApiAccessLogs"), &awslogs.LogGroupProps{
		// API request logs follow the api_request_log retention class
		// (30 days; TestLogGroupsHaveRetention checks it).
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: b.removal,
	})
	stage := awsapigatewayv2.NewHttpStage(b.stack, jsii.String("HttpApiDefaultStage"), &awsapigatewayv2.HttpStageProps{
		HttpApi:    api,
		StageName:  jsii.String("$default"),
		AutoDeploy: jsii.Bool(true),
		Throttle: &awsapigatewayv2.ThrottleSettings{
			RateLimit:  jsii.Number(throttleRate),
			BurstLimit: jsii.Number(throttleBurst),
		},
		AccessLogSettings: &accessLogSettings{
			destination: awsapigatewayv2.NewLogGroupLogDestination(logs),
			format:      awsapigateway.AccessLogFormat_Custom(jsii.String(accessLogFormat)),
		},
	})
	awscdk.NewCfnOutput(b.stack, jsii.String("ApiURL"), &awscdk.CfnOutputProps{
		Value:       stage.Url(),
		Description: jsii.String("ChatSend API base URL"),
	})
}
