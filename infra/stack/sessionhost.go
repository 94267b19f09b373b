package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsefs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"

	"github.com/chatsend/chatsend/shared/resources"
)

// Session host container settings. The binary serves GET /healthz on
// hostHealthPort; the image is distroless/static (no shell, curl or wget), so
// the ECS health check runs the binary itself with -healthcheck, which GETs
// http://127.0.0.1:8081/healthz and exits 0 on a 2xx answer, 1 otherwise.
const (
	hostHealthPort = "8081"
	hostDeviceDir  = "/mnt/devices"
	// hostUID owns the device store: the Dockerfile's USER and the EFS access
	// point's POSIX user must agree, or SQLite cannot open its files.
	hostUID = "1000"
	// hostDockerfile is relative to Props.SourceDir, the build context.
	hostDockerfile = "session-host/Dockerfile"
)

// hostImageExclude keeps the Docker build context (the repository root,
// copied into cdk.out at synth) small and its hash stable: VCS data, local
// build output, the cloud assembly itself (which would otherwise be copied
// into itself on `go run ./infra`) and local dev state. Patterns follow
// .dockerignore rules, so the Dockerfile's `COPY . .` sees the same files.
var hostImageExclude = []string{".git", ".build", "cdk.out", ".dev", "**/node_modules"}

// addSessionHost adds the always-on session host: a VPC with outbound-only
// networking, the EFS device store, an ECS cluster and a Fargate service
// running the session-host image, with a least-privilege task role.
func (b *builder) addSessionHost() {
	vpc := b.addVPC()

	// Outbound only: no load balancer and no ingress rule, so nothing can
	// connect to a task. Egress is limited to HTTPS (whatsmeow's websocket
	// wss://web.whatsapp.com:443, WhatsApp media hosts, AWS APIs, ECR) and
	// NFS to the device store, added below. The VPC resolver and the
	// Fargate metadata endpoints are not subject to security groups.
	sg := awsec2.NewSecurityGroup(b.stack, jsii.String("SessionHostSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("ChatSend " + b.set.Stage + " session host tasks: no inbound, HTTPS and NFS outbound"),
		AllowAllOutbound: jsii.Bool(false),
	})
	sg.AddEgressRule(awsec2.Peer_AnyIpv4(), awsec2.Port_Tcp(jsii.Number(443)),
		jsii.String("HTTPS to WhatsApp and AWS APIs"), nil)

	role := awsiam.NewRole(b.stack, jsii.String("SessionHostTaskRole"), &awsiam.RoleProps{
		AssumedBy:   awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description: jsii.String("ChatSend " + b.set.Stage + " session host tasks"),
	})
	fs, ap := b.addDeviceStore(vpc, sg, role)
	b.grantHostTaskRole(role, fs, ap)

	cluster := awsecs.NewCluster(b.stack, jsii.String("SessionHostCluster"), &awsecs.ClusterProps{
		ClusterName:         jsii.String("chatsend-" + b.set.Stage),
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_ENABLED,
	})

	// 1 vCPU / 2 GiB holds about 1,000 WhatsApp sessions per task (one
	// websocket and one SQLite store each, mostly idle). Graviton (ARM64)
	// Fargate is about 20% cheaper than x86 for the same size.
	td := awsecs.NewFargateTaskDefinition(b.stack, jsii.String("SessionHostTask"), &awsecs.FargateTaskDefinitionProps{
		Family:         jsii.String("chatsend-" + b.set.Stage + "-session-host"),
		Cpu:            jsii.Number(1024),
		MemoryLimitMiB: jsii.Number(2048),
		RuntimePlatform: &awsecs.RuntimePlatform{
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
			CpuArchitecture:       awsecs.CpuArchitecture_ARM64(),
		},
		TaskRole: role,
		// The execution role (image pull, log delivery) is created by CDK.
		Volumes: &[]*awsecs.Volume{{
			Name: jsii.String("devices"),
			EfsVolumeConfiguration: &awsecs.EfsVolumeConfiguration{
				FileSystemId:      fs.FileSystemId(),
				TransitEncryption: jsii.String("ENABLED"),
				AuthorizationConfig: &awsecs.AuthorizationConfig{
					AccessPointId: ap.AccessPointId(),
					// Mount as the task role, so the file system only
					// admits it (see hostTaskRole).
					Iam: jsii.String("ENABLED"),
				},
			},
		}},
	})
	logs := awslogs.NewLogGroup(b.stack, jsii.String("SessionHostLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: b.removal,
	})

	env := map[string]*string{
		"CHATSEND_STAGE":            jsii.String(b.set.Stage),
		"CHATSEND_TABLE_MAIN":       b.table.TableName(),
		"CHATSEND_LOG_LEVEL":        jsii.String(logLevel),
		"CHATSEND_DEVICE_DIR":       jsii.String(hostDeviceDir),
		"CHATSEND_WHATSAPP_BACKEND": jsii.String("whatsmeow"),
		"CHATSEND_HOST_HEALTH_PORT": jsii.String(hostHealthPort),
	}
	for _, id := range []string{resources.QueueControl, resources.QueueSend, resources.QueueEvents} {
		env["CHATSEND_QUEUE_"+envKey(id)] = b.queue(id).QueueName()
	}
	container := td.AddContainer(jsii.String("SessionHost"), &awsecs.ContainerDefinitionOptions{
		ContainerName: jsii.String("session-host"),
		Image:         b.hostImage(),
		Essential:     jsii.Bool(true),
		Environment:   &env,
		HealthCheck: &awsecs.HealthCheck{
			Command:  jsii.Strings("CMD", "/session-host", "-healthcheck"),
			Interval: awscdk.Duration_Seconds(jsii.Number(30)),
			Timeout:  awscdk.Duration_Seconds(jsii.Number(5)),
			Retries:  jsii.Number(3),
			// Reconnecting ~1,000 sessions after a start takes a while;
			// /healthz reports the process, not every session.
			StartPeriod: awscdk.Duration_Seconds(jsii.Number(60)),
		},
		// On SIGTERM the host stops taking work, closes its websockets and
		// releases its DynamoDB session leases so the other task picks the
		// sessions up at once; 60 s bounds that before SIGKILL.
		StopTimeout: awscdk.Duration_Seconds(jsii.Number(60)),
		Logging: awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{
			LogGroup:     logs,
			StreamPrefix: jsii.String("session-host"),
			// A slow CloudWatch must never block stdout and with it the
			// websocket handlers; the buffer bounds what can be lost.
			Mode:          awsecs.AwsLogDriverMode_NON_BLOCKING,
			MaxBufferSize: awscdk.Size_Mebibytes(jsii.Number(25)),
		}),
	})
	container.AddMountPoints(&awsecs.MountPoint{
		SourceVolume:  jsii.String("devices"),
		ContainerPath: jsii.String(hostDeviceDir),
		ReadOnly:      jsii.Bool(false),
	})
	cdknag.NagSuppressions_AddResourceSuppressions(td, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-ECS2"),
		Reason: jsii.String("the environment holds only resource names (table, queues), the stage, the device " +
			"directory, the backend name and the health port; the host needs no secret (AWS access comes " +
			"from the task role), and they change only with a deployment anyway"),
	}}, jsii.Bool(true))
	cdknag.NagSuppressions_AddResourceSuppressions(td.ObtainExecutionRole(), &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("Resource::* is only on ecr:GetAuthorizationToken (added by CDK for the image pull), " +
			"which does not support resource-level permissions"),
		AppliesTo: &[]any{"Resource::*"},
	}}, jsii.Bool(true))

	awsecs.NewFargateService(b.stack, jsii.String("SessionHostService"), &awsecs.FargateServiceProps{
		Cluster:        cluster,
		TaskDefinition: td,
		// Sessions are spread over tasks by DynamoDB leases, so two tasks
		// never hold the same session; two tasks keep half the sessions
		// connected while the other task is replaced or its AZ fails.
		DesiredCount:      jsii.Number(2),
		MinHealthyPercent: jsii.Number(50),
		MaxHealthyPercent: jsii.Number(200),
		CircuitBreaker: &awsecs.DeploymentCircuitBreaker{
			Enable:   jsii.Bool(true),
			Rollback: jsii.Bool(true),
		},
		VpcSubnets:           &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		AssignPublicIp:       jsii.Bool(false),
		SecurityGroups:       &[]awsec2.ISecurityGroup{sg},
		EnableExecuteCommand: jsii.Bool(false),
		// 1.4.0 (LATEST) is the first Fargate platform that mounts EFS.
		PlatformVersion: awsecs.FargatePlatformVersion_LATEST,
		PropagateTags:   awsecs.PropagatedTagSource_SERVICE,
	})
}

// addVPC creates the session host's network: 2 AZs, public subnets that hold
// only the NAT gateway, and private subnets for the tasks and the EFS mount
// targets, with flow logs.
//
// Why private subnets behind one NAT gateway rather than public subnets with
// a public IP per task: a task without a public address cannot be reached
// from the internet even if a security group rule is ever added by mistake,
// all sessions leave through one stable Elastic IP, and the EFS mount
// targets stay off the public subnets. One NAT gateway (not one per AZ)
// keeps the fixed cost to a single gateway; if its AZ fails, the task in
// the other AZ loses egress until the AZ recovers, which the leases turn
// into reconnects rather than data loss. DynamoDB and S3 (ECR image layers)
// go through free gateway endpoints instead of the NAT gateway.
func (b *builder) addVPC() awsec2.Vpc {
	vpc := awsec2.NewVpc(b.stack, jsii.String("Vpc"), &awsec2.VpcProps{
		VpcName:     jsii.String("chatsend-" + b.set.Stage),
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.40.0.0/16")),
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(1),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{
				Name:       jsii.String("public"),
				SubnetType: awsec2.SubnetType_PUBLIC,
				CidrMask:   jsii.Number(24),
				// Only the NAT gateway lives here, with its Elastic IP.
				MapPublicIpOnLaunch: jsii.Bool(false),
			},
			{Name: jsii.String("private"), SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS, CidrMask: jsii.Number(20)},
		},
		GatewayEndpoints: &map[string]*awsec2.GatewayVpcEndpointOptions{
			"DynamoDB": {Service: awsec2.GatewayVpcEndpointAwsService_DYNAMODB()},
			"S3":       {Service: awsec2.GatewayVpcEndpointAwsService_S3()},
		},
		// Nothing uses the default security group; restricting it needs a
		// custom-resource Lambda, so it is left as created, and pinned here
		// so cdk.json context cannot change the template.
		RestrictDefaultSecurityGroup: jsii.Bool(false),
	})
	flowLogs := awslogs.NewLogGroup(b.stack, jsii.String("VpcFlowLogs"), &awslogs.LogGroupProps{
		Retention:     awslogs.RetentionDays_ONE_MONTH,
		RemovalPolicy: b.removal,
	})
	vpc.AddFlowLog(jsii.String("FlowLog"), &awsec2.FlowLogOptions{
		Destination: awsec2.FlowLogDestination_ToCloudWatchLogs(flowLogs, nil),
		TrafficType: awsec2.FlowLogTrafficType_ALL,
	})
	return vpc
}

// addDeviceStore creates the EFS file system holding the whatsmeow device
// stores (one SQLite file per session) and the access point the host
// mounts. NFS is only open to the host's security group. SQLite over NFSv4
// is safe here because a session's file has one writer at a time: the
// DynamoDB lease makes one task own a session.
func (b *builder) addDeviceStore(vpc awsec2.IVpc, host awsec2.SecurityGroup, role awsiam.IRole) (awsefs.FileSystem, awsefs.AccessPoint) {
	sg := awsec2.NewSecurityGroup(b.stack, jsii.String("DeviceStoreSecurityGroup"), &awsec2.SecurityGroupProps{
		Vpc:              vpc,
		Description:      jsii.String("ChatSend " + b.set.Stage + " device store mount targets: NFS from the session host only"),
		AllowAllOutbound: jsii.Bool(false),
	})
	fs := awsefs.NewFileSystem(b.stack, jsii.String("DeviceStore"), &awsefs.FileSystemProps{
		Vpc:            vpc,
		VpcSubnets:     &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PRIVATE_WITH_EGRESS},
		SecurityGroup:  sg,
		FileSystemName: jsii.String("chatsend-" + b.set.Stage + "-devices"),
		Encrypted:      jsii.Bool(true),
		// The policy below replaces EFS's default (any client may mount):
		// it allows only the task role, over TLS, through an access point,
		// so no anonymous NFS client gets in. AllowAnonymousAccess: true
		// only stops CDK from adding its own statement, which would allow
		// every IAM principal of the account to write as root.
		FileSystemPolicy:     deviceStorePolicy(role),
		AllowAnonymousAccess: jsii.Bool(true),
		PerformanceMode:      awsefs.PerformanceMode_GENERAL_PURPOSE,
		// Elastic throughput follows the bursts of a restart (every
		// session reopens its store) without paying for idle capacity.
		ThroughputMode: awsefs.ThroughputMode_ELASTIC,
		// Stores of sessions that stay disconnected move to IA; a store
		// that is read again moves back at once.
		LifecyclePolicy:             awsefs.LifecyclePolicy_AFTER_30_DAYS,
		OutOfInfrequentAccessPolicy: awsefs.OutOfInfrequentAccessPolicy_AFTER_1_ACCESS,
		// Daily AWS Backup copies (35 days): losing a store means every
		// customer re-pairs their phone.
		EnableAutomaticBackups: jsii.Bool(true),
		RemovalPolicy:          b.removal,
	})
	fs.Connections().AllowDefaultPortFrom(host, jsii.String("NFS from the session host"))

	ap := fs.AddAccessPoint(jsii.String("DevicesAccessPoint"), &awsefs.AccessPointOptions{
		Path: jsii.String("/devices"),
		// Every NFS operation runs as the container's user, whatever
		// the client claims.
		PosixUser: &awsefs.PosixUser{Uid: jsii.String(hostUID), Gid: jsii.String(hostUID)},
		CreateAcl: &awsefs.Acl{OwnerUid: jsii.String(hostUID), OwnerGid: jsii.String(hostUID), Permissions: jsii.String("750")},
	})
	return fs, ap
}

// grantHostTaskRole gives the session host's task role what it uses: the
// main table, consuming session-control and send, producing events, its own
// inbox queues, and mounting the device store through the access point.
func (b *builder) grantHostTaskRole(role awsiam.Role, fs awsefs.FileSystem, ap awsefs.AccessPoint) {
	b.grantTable(role, role)
	b.queue(resources.QueueControl).GrantConsumeMessages(role)
	b.queue(resources.QueueSend).GrantConsumeMessages(role)
	b.queue(resources.QueueEvents).GrantSendMessages(role)

	// Each task creates its inbox queue at start (for messages addressed
	// to the sessions it holds) and deletes it at shutdown, so the names
	// are not known at deploy time; only the stage's host prefix is.
	inbox := b.stack.FormatArn(&awscdk.ArnComponents{
		Service:   jsii.String("sqs"),
		Resource:  jsii.String(resources.HostInboxPrefix(b.set.Stage) + "*"),
		ArnFormat: awscdk.ArnFormat_NO_RESOURCE_NAME,
	})
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("HostInboxQueues"),
		Actions: jsii.Strings(
			"sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueUrl", "sqs:GetQueueAttributes",
			"sqs:SetQueueAttributes", "sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage",
			"sqs:ChangeMessageVisibility", "sqs:TagQueue",
		),
		Resources: &[]*string{inbox},
	}))
	role.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("DeviceStoreMount"),
		Actions:   jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"),
		Resources: &[]*string{fs.FileSystemArn()},
		Conditions: &map[string]any{
			"StringEquals": map[string]any{"elasticfilesystem:AccessPointArn": ap.AccessPointArn()},
		},
	}))
	cdknag.NagSuppressions_AddResourceSuppressions(role, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-IAM5"),
		Reason: jsii.String("each session host task creates its own inbox queue named " +
			resources.HostInboxPrefix(b.set.Stage) + "<task> at start and deletes it at shutdown, so the queue names " +
			"are only known at run time; the wildcard is limited to this stage's host inbox prefix in this " +
			"account and region"),
		AppliesTo: &[]any{cdknag.RegexAppliesTo{Regex: jsii.String(
			`/^Resource::arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:` +
				regexp.QuoteMeta(resources.HostInboxPrefix(b.set.Stage)) + `\*$/`)}},
	}}, jsii.Bool(true))
}

// deviceStorePolicy is the device store's file system policy. The access
// point cannot be named here (it depends on the file system), so requiring
// "some access point" is the resource side; the task role's own policy
// names the one access point.
func deviceStorePolicy(role awsiam.IRole) awsiam.PolicyDocument {
	client := jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite",
		"elasticfilesystem:ClientRootAccess")
	return awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("SessionHostMount"),
			Principals: &[]awsiam.IPrincipal{role},
			Actions:    jsii.Strings("elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"),
			Conditions: &map[string]any{"Bool": map[string]any{"elasticfilesystem:AccessedViaMountTarget": "true"}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("DenyWithoutTLS"),
			Effect:     awsiam.Effect_DENY,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    client,
			Conditions: &map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
		}),
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:        jsii.String("DenyWithoutAccessPoint"),
			Effect:     awsiam.Effect_DENY,
			Principals: &[]awsiam.IPrincipal{awsiam.NewAnyPrincipal()},
			Actions:    client,
			Conditions: &map[string]any{"Null": map[string]any{"elasticfilesystem:AccessPointArn": "true"}},
		}),
	}})
}

// hostImage is the session-host image, built by `cdk deploy` from
// session-host/Dockerfile with the repository root as context. Synthesis
// only copies the context into cdk.out, so it needs no Docker engine.
func (b *builder) hostImage() awsecs.ContainerImage {
	dir := b.props.SourceDir
	if dir == "" {
		dir = "."
	}
	if _, err := os.Stat(filepath.Join(dir, hostDockerfile)); err != nil {
		panic(fmt.Sprintf("stack: session host image: %v (SourceDir must be the repository root)", err))
	}
	exclude := make([]*string, len(hostImageExclude))
	for i, p := range hostImageExclude {
		exclude[i] = jsii.String(p)
	}
	return awsecs.ContainerImage_FromAsset(jsii.String(dir), &awsecs.AssetImageProps{
		File:       jsii.String(hostDockerfile),
		Platform:   awsecrassets.Platform_LINUX_ARM64(),
		Exclude:    &exclude,
		IgnoreMode: awscdk.IgnoreMode_DOCKER,
	})
}
