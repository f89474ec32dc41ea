//! The AWS SDK clients, each built from the shared `SdkConfig` with the interceptor that counts
//! their calls as AWS time (`timings`). Every client in the tool comes from here.

use aws_config::SdkConfig;

use crate::timings::AwsTimer;

macro_rules! timed_client {
    ($name:ident, $service:ident) => {
        pub fn $name(sdk: &SdkConfig) -> $service::Client {
            $service::Client::from_conf(
                $service::config::Builder::from(sdk)
                    .interceptor(AwsTimer)
                    .build(),
            )
        }
    };
}

timed_client!(cloudformation, aws_sdk_cloudformation);
timed_client!(cloudwatch, aws_sdk_cloudwatch);
timed_client!(iam, aws_sdk_iam);
timed_client!(lambda, aws_sdk_lambda);
timed_client!(logs, aws_sdk_cloudwatchlogs);
timed_client!(ssm, aws_sdk_ssm);
timed_client!(sts, aws_sdk_sts);

/// S3 addresses buckets by host name; an explicit endpoint (a local or private S3) is addressed
/// by path instead, as such endpoints expect.
pub fn s3(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(sdk)
            .interceptor(AwsTimer)
            .force_path_style(sdk.endpoint_url().is_some())
            .build(),
    )
}
