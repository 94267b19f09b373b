package stack_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/cxapi"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/chatsend/chatsend/infra/stack"
	"github.com/chatsend/chatsend/shared/resources"
	"github.com/chatsend/chatsend/shared/retention"
)

const stage = "dev"

// The stack is synthesized once: jsii start-up and synthesis dominate the
// run time, and every test only reads the result.
var (
	set       = resources.For(stage)
	template  assertions.Template
	resourceM map[string]map[string]any // logical id → resource, from the template JSON
	annots    assertions.Annotations
	outDir    string // the cloud assembly, with staged assets
)

func TestMain(m *testing.M) {
	code := run(m)
	jsii.Close()
	os.Exit(code)
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chatsend-infra-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	functions := filepath.Join(dir, "functions")
	// Every folder under functions/ is a Lambda the stack may build.
	entries, err := os.ReadDir(filepath.Join("..", "..", "functions"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Join(functions, e.Name()), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.WriteFile(filepath.Join(functions, e.Name(), "bootstrap"), []byte("not a binary"), 0o755); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}

	outDir = filepath.Join(dir, "cdk.out")
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(outDir)})
	st := stack.New(app, "ChatSend-"+stage, stack.Props{Stage: stage, FunctionsDir: functions, SourceDir: filepath.Join("..", "..")})
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(&cdknag.NagPackProps{Verbose: jsii.Bool(true)}), nil)
	template = assertions.Template_FromStack(st, nil)
	annots = assertions.Annotations_FromStack(st)

	resourceM = map[string]map[string]any{}
	for id, r := range (*template.ToJSON())["Resources"].(map[string]any) {
		resourceM[id] = r.(map[string]any)
	}
	return m.Run()
}

// check runs a jsii assertion, which panics on a mismatch, and reports the
// mismatch as a test error instead.
func check(t *testing.T, what string, assert func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s:\n%v", what, r)
		}
	}()
	assert()
}

func hasProps(t *testing.T, what, typ string, props map[string]any) {
	t.Helper()
	check(t, what, func() { template.HasResourceProperties(jsii.String(typ), props) })
}

func like(v map[string]any) assertions.Matcher { return assertions.Match_ObjectLike(&v) }
func arrayWith(v ...any) assertions.Matcher    { return assertions.Match_ArrayWith(&v) }
func regexp(s string) assertions.Matcher       { return assertions.Match_StringLikeRegexp(jsii.String(s)) }

// idsOf returns the logical ids of the resources of type typ whose
// properties have key == value (a missing key matches nil).
func idsOf(typ, key string, value any) []string {
	var ids []string
	for id, r := range resourceM {
		if r["Type"] != typ {
			continue
		}
		props, _ := r["Properties"].(map[string]any)
		if fmt.Sprint(props[key]) == fmt.Sprint(value) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// oneID is idsOf that expects exactly one match.
func oneID(t *testing.T, typ, key string, value any) string {
	t.Helper()
	ids := idsOf(typ, key, value)
	if len(ids) != 1 {
		t.Fatalf("%s with %s=%v: found %v, want exactly one", typ, key, value, ids)
	}
	return ids[0]
}

func getAtt(id, attr string) map[string]any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }
func ref(id string) map[string]any          { return map[string]any{"Ref": id} }

func TestMainTable(t *testing.T) {
	main := set.Main
	var indexes []any
	for _, ix := range main.Indexes {
		indexes = append(indexes, map[string]any{
			"IndexName": ix.Name,
			"KeySchema": []any{
				map[string]any{"AttributeName": ix.PartitionKey, "KeyType": "HASH"},
				map[string]any{"AttributeName": ix.SortKey, "KeyType": "RANGE"},
			},
			"Projection": map[string]any{"ProjectionType": string(ix.Projection)},
		})
	}
	if len(indexes) != 2 {
		t.Fatalf("resources define %d indexes, this test expects by_account and gsi1", len(indexes))
	}
	hasProps(t, "main table", "AWS::DynamoDB::Table", map[string]any{
		"TableName": main.Name,
		"KeySchema": []any{
			map[string]any{"AttributeName": resources.PK, "KeyType": "HASH"},
			map[string]any{"AttributeName": resources.SK, "KeyType": "RANGE"},
		},
		"BillingMode":             "PAY_PER_REQUEST",
		"TimeToLiveSpecification": map[string]any{"AttributeName": "ttl", "Enabled": true},
		"PointInTimeRecoverySpecification": map[string]any{
			"PointInTimeRecoveryEnabled": true, "RecoveryPeriodInDays": 35,
		},
		"SSESpecification":       like(map[string]any{"SSEEnabled": true}),
		"GlobalSecondaryIndexes": assertions.Match_ArrayEquals(&indexes),
	})
	id := oneID(t, "AWS::DynamoDB::Table", "TableName", main.Name)
	if got := resourceM[id]["DeletionPolicy"]; got != "Retain" {
		t.Errorf("main table DeletionPolicy = %v, want Retain for stage %q", got, stage)
	}
}

func TestQueues(t *testing.T) {
	check(t, "queue count", func() {
		template.ResourceCountIs(jsii.String("AWS::SQS::Queue"), jsii.Number(float64(2*len(set.Queues))))
	})
	for _, q := range set.Queues {
		t.Run(q.ID, func(t *testing.T) {
			fifo := assertions.Match_Absent()
			if q.FIFO {
				fifo = assertions.Match_Exact(true)
			}
			dlq := oneID(t, "AWS::SQS::Queue", "QueueName", q.DLQName)
			hasProps(t, "dead-letter queue", "AWS::SQS::Queue", map[string]any{
				"QueueName":              q.DLQName,
				"FifoQueue":              fifo,
				"MessageRetentionPeriod": 14 * 24 * 3600,
				"SqsManagedSseEnabled":   true,
			})
			dedup := assertions.Match_Absent()
			if q.FIFO {
				dedup = assertions.Match_Exact(false)
			}
			hasProps(t, "queue", "AWS::SQS::Queue", map[string]any{
				"QueueName":                 q.Name,
				"FifoQueue":                 fifo,
				"ContentBasedDeduplication": dedup,
				"VisibilityTimeout":         q.VisibilityTimeout.Seconds(),
				"MessageRetentionPeriod":    q.Retention.Seconds(),
				"SqsManagedSseEnabled":      true,
				"RedrivePolicy": map[string]any{
					"deadLetterTargetArn": getAtt(dlq, "Arn"),
					"maxReceiveCount":     q.MaxReceiveCount,
				},
			})
			for _, id := range []string{oneID(t, "AWS::SQS::Queue", "QueueName", q.Name), dlq} {
				hasProps(t, "TLS-only queue policy for "+id, "AWS::SQS::QueuePolicy", map[string]any{
					"Queues": arrayWith(ref(id)),
					"PolicyDocument": like(map[string]any{"Statement": arrayWith(like(map[string]any{
						"Effect":    "Deny",
						"Action":    "sqs:*",
						"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
					}))}),
				})
			}
		})
	}
}

func TestBuckets(t *testing.T) {
	check(t, "every bucket is encrypted and private", func() {
		template.AllResourcesProperties(jsii.String("AWS::S3::Bucket"), map[string]any{
			"BucketEncryption": map[string]any{"ServerSideEncryptionConfiguration": arrayWith(like(map[string]any{
				"ServerSideEncryptionByDefault": map[string]any{"SSEAlgorithm": "AES256"},
			}))},
			"PublicAccessBlockConfiguration": map[string]any{
				"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true,
			},
		})
	})
	all := idsOf("AWS::S3::Bucket", "", nil) // every bucket: none has a "" property
	if len(all) != len(set.Buckets)+1 {
		t.Errorf("found %d buckets, want %d resource buckets + the access log bucket", len(all), len(set.Buckets))
	}
	for _, id := range all {
		hasProps(t, "TLS-only bucket policy for "+id, "AWS::S3::BucketPolicy", map[string]any{
			"Bucket": ref(id),
			"PolicyDocument": like(map[string]any{"Statement": arrayWith(like(map[string]any{
				"Effect":    "Deny",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}))}),
		})
	}
	for _, b := range set.Buckets {
		hasProps(t, "bucket "+b.ID, "AWS::S3::Bucket", map[string]any{
			"BucketName": map[string]any{"Fn::Join": []any{"", []any{
				b.Name + "-", ref("AWS::AccountId"), "-", ref("AWS::Region"),
			}}},
			"VersioningConfiguration": map[string]any{"Status": "Enabled"},
			"LifecycleConfiguration": map[string]any{"Rules": arrayWith(like(map[string]any{
				"Status":                         "Enabled",
				"ExpirationInDays":               retention.PolicyFor(retention.ExportFile).Period.Hours() / 24,
				"NoncurrentVersionExpiration":    map[string]any{"NoncurrentDays": 1},
				"AbortIncompleteMultipartUpload": map[string]any{"DaysAfterInitiation": 1},
			}))},
			"LoggingConfiguration": like(map[string]any{"DestinationBucketName": like(map[string]any{"Ref": assertions.Match_AnyValue()})}),
		})
	}
}

// apiFunction returns the api function's logical id and properties.
func apiFunction(t *testing.T) (string, map[string]any) {
	t.Helper()
	var ids []string
	for id, r := range resourceM {
		if r["Type"] == "AWS::Lambda::Function" && strings.HasPrefix(id, "ApiFunction") {
			ids = append(ids, id)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("api functions: %v, want one", ids)
	}
	return ids[0], resourceM[ids[0]]["Properties"].(map[string]any)
}

func TestAPIFunction(t *testing.T) {
	_, props := apiFunction(t)
	tableID := oneID(t, "AWS::DynamoDB::Table", "TableName", set.Main.Name)
	hasProps(t, "api function", "AWS::Lambda::Function", map[string]any{
		"Runtime":       "provided.al2023",
		"Architectures": []any{"arm64"},
		"Handler":       "bootstrap",
		"MemorySize":    512,
		"Timeout":       29,
		"TracingConfig": map[string]any{"Mode": "Active"},
		"LoggingConfig": like(map[string]any{"LogGroup": like(map[string]any{"Ref": assertions.Match_AnyValue()})}),
		"Environment": map[string]any{"Variables": like(map[string]any{
			"CHATSEND_STAGE":          stage,
			"CHATSEND_TABLE_MAIN":     ref(tableID),
			"CHATSEND_BUCKET_EXPORTS": like(map[string]any{"Ref": regexp("^ExportsBucket")}),
			"CHATSEND_LOG_LEVEL":      "info",
		})},
	})
	role := props["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	if mp, ok := resourceM[role]["Properties"].(map[string]any)["ManagedPolicyArns"]; ok {
		t.Errorf("api role has managed policies %v; grant least privilege inline instead", mp)
	}

	allowed := roleActions(role)
	for _, a := range []string{"dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem", "dynamodb:DeleteItem"} {
		if !slices.Contains(allowed[a], fmt.Sprint(getAtt(tableID, "Arn"))) {
			t.Errorf("api role: %s on the main table not allowed (got %v)", a, allowed[a])
		}
	}
	var want []string
	for _, id := range []string{resources.QueueCampaignJobs, resources.QueueControl, resources.QueueSend, resources.QueuePrivacy, resources.QueueWebhooks, resources.QueueImports, resources.QueueEvents} {
		q, _ := set.QueueByID(id)
		want = append(want, fmt.Sprint(getAtt(oneID(t, "AWS::SQS::Queue", "QueueName", q.Name), "Arn")))
		if env := "CHATSEND_QUEUE_" + strings.ToUpper(strings.ReplaceAll(id, "-", "_")); props["Environment"].(map[string]any)["Variables"].(map[string]any)[env] == nil {
			t.Errorf("api function lacks %s", env)
		}
	}
	got := slices.Clone(allowed["sqs:SendMessage"])
	sort.Strings(want)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("api role may send to %v, want exactly %v", got, want)
	}
}

// roleActions returns what a role's inline policies allow: action →
// resources (as JSON-ish strings).
func roleActions(role string) map[string][]string {
	allowed := map[string][]string{}
	for _, r := range resourceM {
		if r["Type"] != "AWS::IAM::Policy" {
			continue
		}
		p := r["Properties"].(map[string]any)
		if !slices.ContainsFunc(p["Roles"].([]any), func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(ref(role)) }) {
			continue
		}
		for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			st := s.(map[string]any)
			for _, a := range list(st["Action"]) {
				for _, res := range list(st["Resource"]) {
					allowed[fmt.Sprint(a)] = append(allowed[fmt.Sprint(a)], fmt.Sprint(res))
				}
			}
		}
	}
	return allowed
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

func TestLogGroupsHaveRetention(t *testing.T) {
	check(t, "every log group has a retention", func() {
		template.AllResourcesProperties(jsii.String("AWS::Logs::LogGroup"), map[string]any{
			"RetentionInDays": assertions.Match_AnyValue(),
		})
	})
	// Request and function logs are the api_request_log retention class.
	want := retention.PolicyFor(retention.APIRequestLog).Period.Hours() / 24
	n := 0
	for id, r := range resourceM {
		if r["Type"] == "AWS::Logs::LogGroup" {
			n++
			if got := r["Properties"].(map[string]any)["RetentionInDays"]; got != want {
				t.Errorf("log group %s RetentionInDays = %v, want %v (api_request_log)", id, got, want)
			}
		}
	}
	if n < 3 {
		t.Errorf("found %d log groups; want the functions', the session host's and the API's", n)
	}
	for id, r := range resourceM {
		if r["Type"] == "AWS::ApiGatewayV2::Stage" {
			if _, ok := r["Properties"].(map[string]any)["AccessLogSettings"].(map[string]any)["DestinationArn"]; !ok {
				t.Errorf("stage %s has no access log group", id)
			}
		}
	}
}

func TestHTTPAPI(t *testing.T) {
	fnID, _ := apiFunction(t)
	hasProps(t, "HTTP API", "AWS::ApiGatewayV2::Api", map[string]any{"ProtocolType": "HTTP"})
	hasProps(t, "Lambda proxy integration", "AWS::ApiGatewayV2::Integration", map[string]any{
		"IntegrationType":      "AWS_PROXY",
		"IntegrationUri":       getAtt(fnID, "Arn"),
		"PayloadFormatVersion": "2.0",
	})
	hasProps(t, "catch-all route", "AWS::ApiGatewayV2::Route", map[string]any{"RouteKey": "$default"})
	hasProps(t, "default stage", "AWS::ApiGatewayV2::Stage", map[string]any{
		"StageName":  "$default",
		"AutoDeploy": true,
		"DefaultRouteSettings": like(map[string]any{
			"ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100,
		}),
		"AccessLogSettings": map[string]any{
			"DestinationArn": like(map[string]any{"Fn::GetAtt": arrayWith("Arn")}),
			"Format":         regexp(`\$context\.requestId`),
		},
	})
	check(t, "API URL output", func() {
		template.HasOutput(jsii.String("ApiURL"), map[string]any{"Value": assertions.Match_AnyValue()})
	})
}

// TestNagClean fails on any unsuppressed AwsSolutions error or warning.
func TestNagClean(t *testing.T) {
	nag := regexp("AwsSolutions-.*")
	report := func(kind string, msgs *[]*cxapi.SynthesisMessage) {
		for _, m := range *msgs {
			t.Errorf("cdk-nag %s at %s: %v", kind, *m.Id, m.Entry.Data)
		}
	}
	report("error", annots.FindError(jsii.String("*"), nag))
	report("warning", annots.FindWarning(jsii.String("*"), nag))
}

// TestNagCatchesFindings proves TestNagClean can fail: the same checks on a
// queue without TLS enforcement or a dead-letter queue report errors.
func TestNagCatchesFindings(t *testing.T) {
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(t.TempDir())})
	st := awscdk.NewStack(app, jsii.String("Bad"), nil)
	awssqs.NewQueue(st, jsii.String("Plain"), nil)
	awscdk.Aspects_Of(app).Add(cdknag.NewAwsSolutionsChecks(nil), nil)
	errs := assertions.Annotations_FromStack(st).FindError(jsii.String("*"), regexp("AwsSolutions-SQS[34]"))
	if len(*errs) == 0 {
		t.Error("cdk-nag reported no SQS3/SQS4 error on a bare queue; are the checks wired up?")
	}
}

func TestEventsConsumerMapping(t *testing.T) {
	hasProps(t, "events queue mapping with partial batch failures", "AWS::Lambda::EventSourceMapping", map[string]any{
		"FunctionResponseTypes": []any{"ReportBatchItemFailures"},
		"BatchSize":             10,
	})
}

// Every queue a Lambda consumes must stay invisible at least as long as the
// Lambda may run, or messages are handled twice at once (and AWS rejects
// the mapping).
func TestQueueVisibilityCoversConsumers(t *testing.T) {
	mappings := 0
	for _, r := range resourceM {
		if r["Type"] != "AWS::Lambda::EventSourceMapping" {
			continue
		}
		mappings++
		props := r["Properties"].(map[string]any)
		fnID := props["FunctionName"].(map[string]any)["Ref"].(string)
		qID := props["EventSourceArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		timeout := resourceM[fnID]["Properties"].(map[string]any)["Timeout"].(float64)
		vis := resourceM[qID]["Properties"].(map[string]any)["VisibilityTimeout"].(float64)
		if vis < timeout {
			t.Errorf("%s: visibility %vs < %s timeout %vs", qID, vis, fnID, timeout)
		}
	}
	if mappings < 3 {
		t.Fatalf("found %d event source mappings, want events, fanout and imports", mappings)
	}
}

// The webhook secrets key comes from a generated secret; functions get
// only its ARN.
func TestSecretsKeyNotInTemplate(t *testing.T) {
	secrets := 0
	for _, r := range resourceM {
		if r["Type"] == "AWS::SecretsManager::Secret" {
			secrets++
			props := r["Properties"].(map[string]any)
			if props["GenerateSecretString"] == nil || props["SecretString"] != nil {
				t.Errorf("secret is not generated: %v", props)
			}
		}
		if r["Type"] != "AWS::Lambda::Function" {
			continue
		}
		env, _ := r["Properties"].(map[string]any)["Environment"].(map[string]any)
		vars, _ := env["Variables"].(map[string]any)
		if _, plain := vars["CHATSEND_SECRETS_KEY"]; plain {
			t.Errorf("a function has the secrets key in plaintext: %v", vars)
		}
	}
	if secrets == 0 {
		t.Fatal("no secrets-key secret in the stack")
	}
	hasProps(t, "api gets the secrets key ARN", "AWS::Lambda::Function", map[string]any{
		"Environment": like(map[string]any{"Variables": like(map[string]any{"CHATSEND_SECRETS_KEY_ARN": assertions.Match_AnyValue()})}),
	})
}

// Billing: the webhook function on its own route, the hourly
// reconciliation, and Stripe keys only as a secret ARN.
func TestBilling(t *testing.T) {
	hasProps(t, "stripe webhook route", "AWS::ApiGatewayV2::Route", map[string]any{"RouteKey": "POST /stripe/webhook"})
	hasProps(t, "hourly reconciliation", "AWS::Events::Rule", map[string]any{"ScheduleExpression": "cron(17 * * * ? *)"})
	functions := 0
	for id, r := range resourceM {
		if r["Type"] != "AWS::Lambda::Function" {
			continue
		}
		vars, _ := r["Properties"].(map[string]any)["Environment"].(map[string]any)["Variables"].(map[string]any)
		for k := range vars {
			if k == "CHATSEND_STRIPE_SECRET_KEY" || k == "CHATSEND_STRIPE_WEBHOOK_SECRETS" {
				t.Errorf("%s has %s in plaintext", id, k)
			}
		}
		if vars["CHATSEND_STRIPE_SECRET_ARN"] != nil {
			functions++
		}
	}
	if functions != 3 {
		t.Errorf("%d functions get the Stripe secret ARN, want api, stripe-webhook, billing-reconcile", functions)
	}
}
