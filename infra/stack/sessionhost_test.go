package stack_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/chatsend/chatsend/shared/resources"
)

// only returns the logical id and properties of the one resource of type
// typ, failing the test if there are none or several.
func only(t *testing.T, typ string) (string, map[string]any) {
	t.Helper()
	ids := idsOf(typ, "", nil)
	if len(ids) != 1 {
		t.Fatalf("%s: found %v, want exactly one", typ, ids)
	}
	return ids[0], resourceM[ids[0]]["Properties"].(map[string]any)
}

// container returns the session host task definition's only container.
func container(t *testing.T) map[string]any {
	t.Helper()
	_, td := only(t, "AWS::ECS::TaskDefinition")
	cs := td["ContainerDefinitions"].([]any)
	if len(cs) != 1 {
		t.Fatalf("session host task has %d containers, want 1", len(cs))
	}
	return cs[0].(map[string]any)
}

// statementsOf returns the statements of every inline policy attached to
// the role with logical id role.
func statementsOf(role string) []map[string]any {
	var out []map[string]any
	for _, r := range resourceM {
		if r["Type"] != "AWS::IAM::Policy" {
			continue
		}
		p := r["Properties"].(map[string]any)
		if !slices.ContainsFunc(p["Roles"].([]any), func(x any) bool { return fmt.Sprint(x) == fmt.Sprint(ref(role)) }) {
			continue
		}
		for _, s := range p["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out = append(out, s.(map[string]any))
		}
	}
	return out
}

func taskRoleID(t *testing.T) string {
	t.Helper()
	_, td := only(t, "AWS::ECS::TaskDefinition")
	return td["TaskRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
}

func TestSessionHostTaskDefinition(t *testing.T) {
	fsID, _ := only(t, "AWS::EFS::FileSystem")
	apID, _ := only(t, "AWS::EFS::AccessPoint")
	hasProps(t, "ARM64 Fargate task with the EFS volume", "AWS::ECS::TaskDefinition", map[string]any{
		"RequiresCompatibilities": []any{"FARGATE"},
		"NetworkMode":             "awsvpc",
		"RuntimePlatform":         map[string]any{"CpuArchitecture": "ARM64", "OperatingSystemFamily": "LINUX"},
		"Cpu":                     "1024",
		"Memory":                  "2048",
		"Volumes": []any{map[string]any{
			"Name": "devices",
			"EFSVolumeConfiguration": map[string]any{
				"FilesystemId":      ref(fsID),
				"TransitEncryption": "ENABLED",
				"AuthorizationConfig": map[string]any{
					"AccessPointId": ref(apID),
					"IAM":           "ENABLED",
				},
			},
		}},
	})

	c := container(t)
	want := map[string]any{
		"Essential":   true,
		"StopTimeout": 60.0,
		"HealthCheck": map[string]any{
			"Command":  []any{"CMD", "/session-host", "-healthcheck"},
			"Interval": 30.0, "Timeout": 5.0, "Retries": 3.0, "StartPeriod": 60.0,
		},
		"MountPoints": []any{map[string]any{"ContainerPath": "/mnt/devices", "ReadOnly": false, "SourceVolume": "devices"}},
	}
	for k, v := range want {
		if got := c[k]; fmt.Sprint(got) != fmt.Sprint(v) {
			t.Errorf("container %s = %v, want %v", k, got, v)
		}
	}
	if _, ok := c["PortMappings"]; ok {
		t.Errorf("container maps ports %v; the host takes no inbound traffic", c["PortMappings"])
	}

	lc := c["LogConfiguration"].(map[string]any)
	if lc["LogDriver"] != "awslogs" {
		t.Errorf("container log driver = %v, want awslogs", lc["LogDriver"])
	}
	group, _ := lc["Options"].(map[string]any)["awslogs-group"].(map[string]any)["Ref"].(string)
	if r := resourceM[group]; r["Type"] != "AWS::Logs::LogGroup" {
		t.Errorf("awslogs-group %q is not a log group of this stack", group)
	} else if got := r["Properties"].(map[string]any)["RetentionInDays"]; got != 30.0 {
		t.Errorf("session host log group RetentionInDays = %v, want 30", got)
	}

	env := map[string]any{}
	for _, e := range c["Environment"].([]any) {
		env[e.(map[string]any)["Name"].(string)] = e.(map[string]any)["Value"]
	}
	wantEnv := map[string]any{
		"CHATSEND_STAGE":            stage,
		"CHATSEND_TABLE_MAIN":       ref(oneID(t, "AWS::DynamoDB::Table", "TableName", set.Main.Name)),
		"CHATSEND_DEVICE_DIR":       "/mnt/devices",
		"CHATSEND_WHATSAPP_BACKEND": "whatsmeow",
		"CHATSEND_HOST_HEALTH_PORT": "8081",
	}
	for env, id := range map[string]string{
		"CHATSEND_QUEUE_SESSION_CONTROL": resources.QueueControl,
		"CHATSEND_QUEUE_SEND":            resources.QueueSend,
		"CHATSEND_QUEUE_EVENTS":          resources.QueueEvents,
	} {
		q, _ := set.QueueByID(id)
		wantEnv[env] = getAtt(oneID(t, "AWS::SQS::Queue", "QueueName", q.Name), "QueueName")
	}
	for k, v := range wantEnv {
		if fmt.Sprint(env[k]) != fmt.Sprint(v) {
			t.Errorf("container env %s = %v, want %v", k, env[k], v)
		}
	}
}

func TestSessionHostImageAsset(t *testing.T) {
	var manifest struct {
		DockerImages map[string]struct {
			Source struct {
				Directory  string `json:"directory"`
				DockerFile string `json:"dockerFile"`
				Platform   string `json:"platform"`
			} `json:"source"`
		} `json:"dockerImages"`
	}
	data, err := os.ReadFile(filepath.Join(outDir, "ChatSend-"+stage+".assets.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.DockerImages) != 1 {
		t.Fatalf("docker image assets: %d, want 1 (the session host)", len(manifest.DockerImages))
	}
	for _, img := range manifest.DockerImages {
		if img.Source.DockerFile != "session-host/Dockerfile" || img.Source.Platform != "linux/arm64" {
			t.Errorf("image asset file %q platform %q, want session-host/Dockerfile for linux/arm64",
				img.Source.DockerFile, img.Source.Platform)
		}
		staged := filepath.Join(outDir, img.Source.Directory)
		for _, f := range []string{"go.mod", "go.sum", "session-host/Dockerfile"} {
			if _, err := os.Stat(filepath.Join(staged, f)); err != nil {
				t.Errorf("build context lacks %s: %v", f, err)
			}
		}
		for _, f := range []string{".git", ".build", "cdk.out", ".dev"} {
			if _, err := os.Stat(filepath.Join(staged, f)); err == nil {
				t.Errorf("build context contains %s; it should be excluded", f)
			}
		}
	}
}

func TestDeviceStore(t *testing.T) {
	fsID, fs := only(t, "AWS::EFS::FileSystem")
	if fs["Encrypted"] != true {
		t.Errorf("device store Encrypted = %v, want true", fs["Encrypted"])
	}
	if got := resourceM[fsID]["DeletionPolicy"]; got != "Retain" {
		t.Errorf("device store DeletionPolicy = %v, want Retain for stage %q", got, stage)
	}
	if fmt.Sprint(fs["BackupPolicy"]) != fmt.Sprint(map[string]any{"Status": "ENABLED"}) {
		t.Errorf("device store BackupPolicy = %v, want enabled", fs["BackupPolicy"])
	}
	hasProps(t, "file system policy", "AWS::EFS::FileSystem", map[string]any{
		"FileSystemPolicy": like(map[string]any{"Statement": arrayWith(
			like(map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": getAtt(taskRoleID(t), "Arn")},
				"Action":    []any{"elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"},
			}),
			like(map[string]any{
				"Effect":    "Deny",
				"Condition": map[string]any{"Bool": map[string]any{"aws:SecureTransport": "false"}},
			}),
			like(map[string]any{
				"Effect":    "Deny",
				"Condition": map[string]any{"Null": map[string]any{"elasticfilesystem:AccessPointArn": "true"}},
			}),
		)}),
	})
	// No statement may allow anyone but the task role (CDK's default for
	// allowAnonymousAccess: false would allow every principal).
	for _, s := range fs["FileSystemPolicy"].(map[string]any)["Statement"].([]any) {
		st := s.(map[string]any)
		if st["Effect"] == "Allow" && fmt.Sprint(st["Principal"]) != fmt.Sprint(map[string]any{"AWS": getAtt(taskRoleID(t), "Arn")}) {
			t.Errorf("file system policy allows %v", st["Principal"])
		}
	}

	hasProps(t, "devices access point", "AWS::EFS::AccessPoint", map[string]any{
		"FileSystemId": ref(fsID),
		"PosixUser":    map[string]any{"Uid": "1000", "Gid": "1000"},
		"RootDirectory": map[string]any{
			"Path":         "/devices",
			"CreationInfo": map[string]any{"OwnerUid": "1000", "OwnerGid": "1000", "Permissions": "750"},
		},
	})

	// Mount targets in the private subnets, behind a group that admits NFS
	// from the session host only.
	_, svc := only(t, "AWS::ECS::Service")
	hostSG := svc["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)["SecurityGroups"].([]any)[0]
	private := fmt.Sprint(svc["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)["Subnets"])
	var efsSG any
	for _, id := range idsOf("AWS::EFS::MountTarget", "FileSystemId", ref(fsID)) {
		p := resourceM[id]["Properties"].(map[string]any)
		if !strings.Contains(private, fmt.Sprint(p["SubnetId"])) {
			t.Errorf("mount target %s in %v, not a private subnet", id, p["SubnetId"])
		}
		efsSG = p["SecurityGroups"].([]any)[0]
	}
	if efsSG == nil {
		t.Fatal("device store has no mount targets")
	}
	var ingress []string
	for id, r := range resourceM {
		p, _ := r["Properties"].(map[string]any)
		switch {
		case r["Type"] == "AWS::EC2::SecurityGroupIngress" && fmt.Sprint(p["GroupId"]) == fmt.Sprint(efsSG):
			ingress = append(ingress, fmt.Sprint(p["IpProtocol"], p["FromPort"], p["ToPort"], p["SourceSecurityGroupId"]))
		case r["Type"] == "AWS::EC2::SecurityGroup" && fmt.Sprint(getAtt(id, "GroupId")) == fmt.Sprint(efsSG):
			if in, ok := p["SecurityGroupIngress"]; ok {
				t.Errorf("device store security group has inline ingress %v", in)
			}
		}
	}
	if want := []string{fmt.Sprint("tcp", 2049.0, 2049.0, hostSG)}; !slices.Equal(ingress, want) {
		t.Errorf("device store ingress %v, want only %v", ingress, want)
	}
}

func TestSessionHostCluster(t *testing.T) {
	hasProps(t, "cluster with Container Insights", "AWS::ECS::Cluster", map[string]any{
		"ClusterSettings": arrayWith(map[string]any{"Name": "containerInsights", "Value": "enabled"}),
	})
}

func TestSessionHostService(t *testing.T) {
	clusterID, _ := only(t, "AWS::ECS::Cluster")
	tdID, _ := only(t, "AWS::ECS::TaskDefinition")
	_, svc := only(t, "AWS::ECS::Service")
	hasProps(t, "session host service", "AWS::ECS::Service", map[string]any{
		"Cluster":        ref(clusterID),
		"TaskDefinition": ref(tdID),
		"LaunchType":     "FARGATE",
		"DesiredCount":   2,
		"DeploymentConfiguration": like(map[string]any{
			"MinimumHealthyPercent":    50,
			"MaximumPercent":           200,
			"DeploymentCircuitBreaker": map[string]any{"Enable": true, "Rollback": true},
		}),
		"EnableExecuteCommand": false,
		"LoadBalancers":        assertions.Match_Absent(),
		"NetworkConfiguration": map[string]any{"AwsvpcConfiguration": like(map[string]any{
			"AssignPublicIp": "DISABLED",
		})},
	})
	check(t, "no load balancer", func() {
		template.ResourceCountIs(jsii.String("AWS::ElasticLoadBalancingV2::LoadBalancer"), jsii.Number(0))
	})

	// The tasks' security group admits nothing and lets out only HTTPS
	// (and NFS to the device store, as a separate egress resource).
	sg := svc["NetworkConfiguration"].(map[string]any)["AwsvpcConfiguration"].(map[string]any)["SecurityGroups"].([]any)
	if len(sg) != 1 {
		t.Fatalf("service security groups %v, want 1", sg)
	}
	sgID := sg[0].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
	p := resourceM[sgID]["Properties"].(map[string]any)
	if in, ok := p["SecurityGroupIngress"]; ok {
		t.Errorf("session host security group has ingress %v", in)
	}
	if ids := idsOf("AWS::EC2::SecurityGroupIngress", "GroupId", getAtt(sgID, "GroupId")); len(ids) > 0 {
		t.Errorf("session host security group has ingress rules %v", ids)
	}
	eg := fmt.Sprint(p["SecurityGroupEgress"])
	if want := fmt.Sprint([]any{map[string]any{
		"CidrIp": "0.0.0.0/0", "Description": "HTTPS to WhatsApp and AWS APIs", "FromPort": 443.0, "IpProtocol": "tcp", "ToPort": 443.0,
	}}); eg != want {
		t.Errorf("session host egress %s, want %s", eg, want)
	}
}

func TestSessionHostTaskRole(t *testing.T) {
	role := taskRoleID(t)
	stmts := statementsOf(role)
	if len(stmts) == 0 {
		t.Fatal("session host task role has no policy")
	}
	allowed := map[string][]string{} // action → resources
	for _, st := range stmts {
		if st["Effect"] != "Allow" {
			continue
		}
		for _, a := range list(st["Action"]) {
			if s := fmt.Sprint(a); strings.HasSuffix(s, ":*") || s == "*" {
				t.Errorf("task role allows wildcard action %s", s)
			}
			for _, r := range list(st["Resource"]) {
				allowed[fmt.Sprint(a)] = append(allowed[fmt.Sprint(a)], fmt.Sprint(r))
			}
		}
	}

	arn := func(id string) string {
		q, _ := set.QueueByID(id)
		return fmt.Sprint(getAtt(oneID(t, "AWS::SQS::Queue", "QueueName", q.Name), "Arn"))
	}
	inbox := fmt.Sprint(map[string]any{"Fn::Join": []any{"", []any{
		"arn:", ref("AWS::Partition"), ":sqs:", ref("AWS::Region"), ":", ref("AWS::AccountId"),
		":chatsend-" + stage + "-host-*", // resources.HostInboxPrefix(stage)
	}}})
	table := fmt.Sprint(getAtt(oneID(t, "AWS::DynamoDB::Table", "TableName", set.Main.Name), "Arn"))
	want := map[string][]string{
		"dynamodb:GetItem":            {table},
		"dynamodb:PutItem":            {table},
		"dynamodb:UpdateItem":         {table},
		"dynamodb:Query":              {table},
		"sqs:ReceiveMessage":          {arn(resources.QueueControl), arn(resources.QueueSend), inbox},
		"sqs:DeleteMessage":           {arn(resources.QueueControl), arn(resources.QueueSend), inbox},
		"sqs:ChangeMessageVisibility": {arn(resources.QueueControl), arn(resources.QueueSend), inbox},
		"sqs:SendMessage":             {arn(resources.QueueEvents), inbox},
		"sqs:CreateQueue":             {inbox},
		"sqs:DeleteQueue":             {inbox},
		"sqs:SetQueueAttributes":      {inbox},
		"sqs:TagQueue":                {inbox},
	}
	for a, rs := range want {
		for _, r := range rs {
			if !slices.Contains(allowed[a], r) {
				t.Errorf("task role: %s on %s not allowed (got %v)", a, r, allowed[a])
			}
		}
	}
	// Exactly these queues may be sent to, consumed from, created or deleted.
	for _, a := range []string{"sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:CreateQueue", "sqs:DeleteQueue"} {
		got, w := slices.Clone(allowed[a]), slices.Clone(want[a])
		slices.Sort(got)
		slices.Sort(w)
		if !slices.Equal(got, w) {
			t.Errorf("task role %s on %v, want exactly %v", a, got, w)
		}
	}

	// The device store is mounted through the access point only.
	fsID, _ := only(t, "AWS::EFS::FileSystem")
	apID, _ := only(t, "AWS::EFS::AccessPoint")
	found := false
	for _, st := range stmts {
		if !slices.ContainsFunc(list(st["Action"]), func(a any) bool { return a == "elasticfilesystem:ClientWrite" }) {
			continue
		}
		found = true
		if fmt.Sprint(st["Resource"]) != fmt.Sprint(getAtt(fsID, "Arn")) {
			t.Errorf("EFS statement on %v, want the device store", st["Resource"])
		}
		cond := fmt.Sprint(st["Condition"])
		if !strings.Contains(cond, "elasticfilesystem:AccessPointArn") || !strings.Contains(cond, apID) {
			t.Errorf("EFS statement condition %s does not name the access point %s", cond, apID)
		}
		if slices.Contains(list(st["Action"]), any("elasticfilesystem:ClientRootAccess")) {
			t.Error("task role has ClientRootAccess")
		}
	}
	if !found {
		t.Error("task role may not write to the device store")
	}

	if mp, ok := resourceM[role]["Properties"].(map[string]any)["ManagedPolicyArns"]; ok {
		t.Errorf("task role has managed policies %v", mp)
	}
}

func TestVPC(t *testing.T) {
	vpcID, _ := only(t, "AWS::EC2::VPC")
	check(t, "one NAT gateway", func() {
		template.ResourceCountIs(jsii.String("AWS::EC2::NatGateway"), jsii.Number(1))
	})
	check(t, "2 AZs × (public + private) subnets", func() {
		template.ResourceCountIs(jsii.String("AWS::EC2::Subnet"), jsii.Number(4))
	})
	hasProps(t, "VPC flow log to CloudWatch Logs", "AWS::EC2::FlowLog", map[string]any{
		"ResourceId":         ref(vpcID),
		"ResourceType":       "VPC",
		"TrafficType":        "ALL",
		"LogDestinationType": "cloud-watch-logs",
	})
	_, fl := only(t, "AWS::EC2::FlowLog")
	group := fl["LogGroupName"].(map[string]any)["Ref"].(string)
	if got := resourceM[group]["Properties"].(map[string]any)["RetentionInDays"]; got == nil {
		t.Errorf("flow log group %s has no retention", group)
	}
}

// TestNagSuppressionsAreNarrow: every IAM5 (wildcard) suppression names
// the findings it covers, so a new wildcard still fails TestNagClean.
func TestNagSuppressionsAreNarrow(t *testing.T) {
	for id, r := range resourceM {
		md, _ := r["Metadata"].(map[string]any)
		nag, _ := md["cdk_nag"].(map[string]any)
		rules, _ := nag["rules_to_suppress"].([]any)
		for _, x := range rules {
			s := x.(map[string]any)
			if s["id"] == "AwsSolutions-IAM5" && s["applies_to"] == nil {
				t.Errorf("%s suppresses every AwsSolutions-IAM5 finding; list applies_to", id)
			}
			if reason, _ := s["reason"].(string); len(reason) < 40 {
				t.Errorf("%s suppresses %v with a thin reason %q", id, s["id"], reason)
			}
		}
	}
}
