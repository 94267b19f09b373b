package stack

import (
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/jsii-runtime-go"
	"github.com/cdklabs/cdk-nag-go/cdknag/v2"
)

// addSecretsKey creates the key that encrypts webhook signing secrets at
// rest, as a generated Secrets Manager secret. Functions get only its ARN
// (CHATSEND_SECRETS_KEY_ARN) and read the value at start, so the key is
// never in the template or in a function's environment.
func (b *builder) addSecretsKey(fns ...awslambda.Function) {
	secret := awssecretsmanager.NewSecret(b.stack, jsii.String("SecretsKey"), &awssecretsmanager.SecretProps{
		Description: jsii.String("ChatSend " + b.props.Stage + ": key material for encrypting webhook signing secrets"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: jsii.Number(64), ExcludePunctuation: jsii.Bool(true),
		},
		RemovalPolicy: b.removal,
	})
	cdknag.NagSuppressions_AddResourceSuppressions(secret, &[]*cdknag.NagPackSuppression{{
		Id: jsii.String("AwsSolutions-SMG4"),
		Reason: jsii.String("rotating this key would make the stored webhook signing secrets undecryptable; " +
			"rotation needs key versions stored with each secret, planned with the data-rights work"),
	}}, jsii.Bool(true))
	for _, fn := range fns {
		secret.GrantRead(fn, nil)
		fn.AddEnvironment(jsii.String("CHATSEND_SECRETS_KEY_ARN"), secret.SecretArn(), nil)
	}
}
