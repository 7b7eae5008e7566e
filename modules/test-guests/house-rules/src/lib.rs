//! A repository's own policy, `house-rules`, for the policy tests: rule
//! `queue-retention` warns about every SQS queue that keeps messages for
//! CloudFormation's default 4 days; rule `vpc-cidr` about a VPC on
//! `10.0.0.0/16` (a value the user wrote, so the finding points at its key). In an environment whose file is named
//! `panic`, `loop` or `grow-memory` it does that instead, so the host's
//! sandbox limits and trap reports can be tested on a policy.

use strata_sdk::policy::{Environment, Findings, Rule};

/// The rules.
pub const RULES: &[Rule] = &[
    Rule::new("queue-retention", "SQS queues set `MessageRetentionPeriod`"),
    Rule::new(
        "vpc-cidr",
        "VPCs stay off the office network's `10.0.0.0/16`",
    ),
];

fn evaluate(env: &Environment) -> Findings {
    match env.name.as_str() {
        "loop" => {
            let mut counter = 0u64;
            loop {
                counter = std::hint::black_box(counter.wrapping_add(1));
            }
        }
        "grow-memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(std::hint::black_box(vec![7u8; 1 << 20]));
            }
        }
        "panic" => {
            strata_sdk::policy::log("counting the queues");
            let rules: Option<u32> = std::hint::black_box(None);
            let _ = rules.expect("the house has no rules");
            unreachable!()
        }
        _ => {}
    }
    let mut findings = Findings::new();
    for queue in env.resources_of_type("AWS::SQS::Queue") {
        if !queue.has("Properties.MessageRetentionPeriod") {
            findings
                .warning(
                    "queue-retention",
                    &queue,
                    "Properties.MessageRetentionPeriod",
                    "the queue keeps messages for the default 4 days",
                )
                .help("set `MessageRetentionPeriod` to what the consumers need");
        }
    }
    for vpc in env.resources_of_type("AWS::EC2::VPC") {
        if vpc
            .property("Properties.CidrBlock")
            .and_then(|c| c.as_str())
            == Some("10.0.0.0/16")
        {
            findings
                .warning(
                    "vpc-cidr",
                    &vpc,
                    "Properties.CidrBlock",
                    "the VPC uses `10.0.0.0/16`, which the office network routes",
                )
                .help("pick another /16, e.g. `10.20.0.0/16`");
        }
    }
    findings
}

strata_sdk::policy! {
    name: "house-rules",
    description: "A repository's own rules, for the policy tests",
    rules: RULES,
    evaluate: evaluate,
}
