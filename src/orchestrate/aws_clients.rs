//! The AWS SDK clients, each built from the shared `SdkConfig` with the interceptor that counts
//! their calls as AWS time (`timings`). Every client in the tool comes from here.

use aws_config::SdkConfig;

use crate::timings::AwsTimer;

pub fn cloudformation(sdk: &SdkConfig) -> aws_sdk_cloudformation::Client {
    aws_sdk_cloudformation::Client::from_conf(
        aws_sdk_cloudformation::config::Builder::from(sdk)
            .interceptor(AwsTimer)
            .build(),
    )
}

pub fn lambda(sdk: &SdkConfig) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(sdk)
            .interceptor(AwsTimer)
            .build(),
    )
}

pub fn ssm(sdk: &SdkConfig) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::config::Builder::from(sdk)
            .interceptor(AwsTimer)
            .build(),
    )
}

pub fn sts(sdk: &SdkConfig) -> aws_sdk_sts::Client {
    aws_sdk_sts::Client::from_conf(
        aws_sdk_sts::config::Builder::from(sdk)
            .interceptor(AwsTimer)
            .build(),
    )
}
