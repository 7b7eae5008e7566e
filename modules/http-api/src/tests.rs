//! Renders through the same path as the host (`testing::render_json`), so
//! serde's errors are covered along with the module's own.

use strata_sdk::testing::{self, TagRules, count_of, import_value, properties, resource};

use crate::{Config, exports, render};

strata_sdk::test_helpers!(Config, render, "api-gateway");

const PRIVATE_WITH_DOMAIN_AND_AUTH: &str = r#"{
    "integration": "vpc-link",
    "origin": "alb.example.com",
    "domain_name": "api.example.com",
    "cognito_stack": "auth",
    "routes": {"orders": {}, "users": {"strip_prefix": true}, "health": {"authorize": false}}
}"#;

#[test]
fn routes_each_service_through_a_vpc_link_to_the_load_balancer() {
    let ctx = test_ctx();
    let rendered = assert_tagged_in(&ctx, PRIVATE_WITH_DOMAIN_AND_AUTH);
    assert!(rendered.warnings.is_empty(), "{:#?}", rendered.warnings);
    assert_eq!(count_of(&rendered, "AWS::ApiGatewayV2::Route"), 3);
    assert_eq!(count_of(&rendered, "AWS::ApiGatewayV2::Integration"), 3);
    let route = properties(&rendered, "OrdersRoute");
    assert_eq!(route["RouteKey"], "ANY /orders/{proxy+}");
    assert_eq!(
        route["Target"].to_string(),
        r#"{"Fn::Join":["/",["integrations",{"Ref":"OrdersIntegration"}]]}"#
    );
    let integration = properties(&rendered, "OrdersIntegration");
    assert_eq!(integration["IntegrationType"], "HTTP_PROXY");
    assert_eq!(integration["ConnectionType"], "VPC_LINK");
    assert_eq!(
        integration["ConnectionId"].to_string(),
        r#"{"Ref":"VpcLink"}"#
    );
    assert_eq!(
        integration["IntegrationUri"].to_string(),
        import_value(&ctx, "compute", "alb-https-listener-arn")
    );
    assert_eq!(
        integration["TlsConfig"]["ServerNameToVerify"],
        "alb.example.com"
    );
    assert!(integration.get("RequestParameters").is_none());
    assert_eq!(
        properties(&rendered, "UsersIntegration")["RequestParameters"]["overwrite:path"],
        "/$request.path.proxy"
    );
    let group = properties(&rendered, "VpcLinkSecurityGroup");
    assert!(group.get("SecurityGroupIngress").is_none());
    let egress = &group["SecurityGroupEgress"][0];
    assert_eq!(egress["FromPort"], 443);
    assert_eq!(
        egress["CidrIp"].to_string(),
        import_value(&ctx, "networking", "vpc-cidr")
    );
}

#[test]
fn proxies_to_the_load_balancers_https_url_over_the_internet() {
    let rendered = rendered(
        r#"{"origin": "alb.example.com", "routes": {"orders": {}, "users": {"path": "/v1/users", "strip_prefix": true}}}"#,
    );
    assert_eq!(count_of(&rendered, "AWS::ApiGatewayV2::VpcLink"), 0);
    assert_eq!(count_of(&rendered, "AWS::EC2::SecurityGroup"), 0);
    let orders = properties(&rendered, "OrdersIntegration");
    assert_eq!(orders["ConnectionType"], "INTERNET");
    assert_eq!(
        orders["IntegrationUri"],
        "https://alb.example.com/orders/{proxy}"
    );
    let users = properties(&rendered, "UsersIntegration");
    assert_eq!(users["IntegrationUri"], "https://alb.example.com/{proxy}");
    assert_eq!(
        properties(&rendered, "UsersRoute")["RouteKey"],
        "ANY /v1/users/{proxy+}"
    );
    assert_eq!(
        properties(&rendered, "UsersRoute")["AuthorizationType"],
        "NONE"
    );
}

#[test]
fn throttles_and_logs_the_default_stage() {
    let rendered = rendered(PRIVATE_WITH_DOMAIN_AND_AUTH);
    let stage = properties(&rendered, "DefaultStage");
    assert_eq!(stage["StageName"], "$default");
    assert_eq!(stage["AutoDeploy"], true);
    assert_eq!(stage["DefaultRouteSettings"]["ThrottlingBurstLimit"], 200);
    assert_eq!(stage["DefaultRouteSettings"]["ThrottlingRateLimit"], 100);
    assert_eq!(
        stage["AccessLogSettings"]["DestinationArn"].to_string(),
        r#"{"Fn::GetAtt":["AccessLogGroup","Arn"]}"#
    );
    let format = stage["AccessLogSettings"]["Format"]
        .as_str()
        .expect("format");
    let line: strata_sdk::Value = strata_sdk::serde_json::from_str(format).expect("JSON lines");
    assert_eq!(line["status"], "$context.status");
    let logs = resource(&rendered, "AccessLogGroup");
    assert_eq!(
        logs["Properties"]["LogGroupName"],
        "/aws/http-api/acme-test-api-gateway"
    );
    assert_eq!(logs["Properties"]["RetentionInDays"], 7);
    assert_eq!(logs["DeletionPolicy"], "Delete");
    assert_eq!(logs["UpdateReplacePolicy"], "Delete");
}

#[test]
fn keeps_production_logs_longer_and_when_the_stack_goes() {
    let rendered = assert_tagged_in(&production_ctx(), PRIVATE_WITH_DOMAIN_AND_AUTH);
    let logs = resource(&rendered, "AccessLogGroup");
    assert_eq!(logs["Properties"]["RetentionInDays"], 90);
    assert_eq!(logs["DeletionPolicy"], "Retain");
    assert_eq!(logs["UpdateReplacePolicy"], "Retain");
}

#[test]
fn checks_cognito_tokens_on_every_route_unless_told_not_to() {
    let ctx = test_ctx();
    let rendered = rendered(PRIVATE_WITH_DOMAIN_AND_AUTH);
    let authorizer = properties(&rendered, "JwtAuthorizer");
    assert_eq!(authorizer["AuthorizerType"], "JWT");
    assert_eq!(
        authorizer["JwtConfiguration"]["Issuer"].to_string(),
        format!(
            r#"{{"Fn::Join":["",["https://cognito-idp.",{{"Ref":"AWS::Region"}},".amazonaws.com/",{}]]}}"#,
            import_value(&ctx, "auth", "user-pool-id")
        )
    );
    assert_eq!(
        authorizer["JwtConfiguration"]["Audience"][0].to_string(),
        import_value(&ctx, "auth", "client-web-id")
    );
    let orders = properties(&rendered, "OrdersRoute");
    assert_eq!(orders["AuthorizationType"], "JWT");
    assert_eq!(
        orders["AuthorizerId"].to_string(),
        r#"{"Ref":"JwtAuthorizer"}"#
    );
    let health = properties(&rendered, "HealthRoute");
    assert_eq!(health["AuthorizationType"], "NONE");
    assert!(health.get("AuthorizerId").is_none());
}

#[test]
fn serves_a_custom_domain_and_turns_off_the_default_endpoint() {
    let ctx = test_ctx();
    let rendered = rendered(PRIVATE_WITH_DOMAIN_AND_AUTH);
    let domain = properties(&rendered, "DomainName");
    assert_eq!(domain["DomainName"], "api.example.com");
    let configuration = &domain["DomainNameConfigurations"][0];
    assert_eq!(
        configuration["CertificateArn"].to_string(),
        import_value(&ctx, "certificate", "certificate-arn")
    );
    assert_eq!(configuration["EndpointType"], "REGIONAL");
    assert_eq!(configuration["SecurityPolicy"], "TLS_1_2");
    let mapping = properties(&rendered, "ApiMapping");
    assert_eq!(mapping["Stage"].to_string(), r#"{"Ref":"DefaultStage"}"#);
    assert_eq!(
        properties(&rendered, "Api")["DisableExecuteApiEndpoint"],
        true
    );
    let without =
        crate::tests::rendered(r#"{"origin": "alb.example.com", "routes": {"orders": {}}}"#);
    assert_eq!(
        properties(&without, "Api")["DisableExecuteApiEndpoint"],
        false
    );
}

#[test]
fn exports_exactly_the_contract_names() {
    let rendered = rendered(PRIVATE_WITH_DOMAIN_AND_AUTH);
    testing::assert_exports(&rendered, &test_ctx(), &exports(true, true));
    assert_eq!(
        exports(true, true),
        [
            "api-id",
            "api-endpoint",
            "vpc-link-id",
            "vpc-link-security-group-id",
            "domain-name",
            "domain-target",
            "domain-hosted-zone-id",
        ]
    );
    testing::assert_output_values(
        &rendered,
        &[
            (
                "DomainTarget",
                r#"{"Fn::GetAtt":["DomainName","RegionalDomainName"]}"#,
            ),
            (
                "DomainHostedZoneId",
                r#"{"Fn::GetAtt":["DomainName","RegionalHostedZoneId"]}"#,
            ),
            ("ApiEndpoint", r#"{"Fn::GetAtt":["Api","ApiEndpoint"]}"#),
        ],
    );
    testing::assert_imports(
        &rendered,
        &[
            ("networking", "vpc-id"),
            ("networking", "vpc-cidr"),
            ("networking", "private-subnet-ids"),
            ("compute", "alb-https-listener-arn"),
            ("auth", "user-pool-id"),
            ("auth", "client-web-id"),
            ("certificate", "certificate-arn"),
        ],
    );
}

#[test]
fn tags_the_api_resources_as_maps() {
    let rules = TagRules::default();
    assert_eq!(rules.tags_property("AWS::ApiGatewayV2::Api"), "Tags");
    let rendered = rendered(PRIVATE_WITH_DOMAIN_AND_AUTH);
    assert!(properties(&rendered, "Api")["Tags"].is_object());
    assert!(properties(&rendered, "VpcLink")["Tags"].is_object());
    assert!(properties(&rendered, "DefaultStage")["Tags"].is_object());
}

#[test]
fn describes_every_option_in_the_schema() {
    let schema = testing::assert_documented::<Config>(13);
    assert!(schema["$defs"]["RouteConfig"].is_object());
}

#[test]
fn rejects_a_table_without_origin_or_routes() {
    testing::assert_errors_at(&errors("{}"), &["origin", "routes"]);
}

#[test]
fn rejects_bad_values_at_their_keys() {
    let errors = errors(
        r#"{"integration": "vpclink", "origin": "*.example.com", "throttling_burst_limit": 0, "throttling_rate_limit": 20000,
            "log_retention_days": 10, "disable_default_endpoint": true,
            "routes": {"orders": {"path": "/orders/", "authorize": true}, "Users": {}, "a": {"path": "/Users"}}}"#,
    );
    testing::assert_errors_at(
        &errors,
        &[
            "integration",
            "origin",
            "routes.Users",
            "routes.a.path",
            "routes.orders.path",
            "routes.orders.authorize",
            "throttling_burst_limit",
            "throttling_rate_limit",
            "log_retention_days",
            "disable_default_endpoint",
        ],
    );
    let integration = &errors[0];
    assert_eq!(
        integration.help.as_deref(),
        Some("did you mean `vpc-link`?")
    );
}

#[test]
fn rejects_a_domain_that_is_its_own_origin_or_has_no_certificate() {
    let error = error_at(
        r#"{"origin": "api.example.com", "domain_name": "api.example.com", "routes": {"orders": {}}}"#,
        "domain_name",
    );
    assert!(error.message.contains("call itself"), "{}", error.message);
    error_at(
        r#"{"origin": "alb.example.com", "domain_name": "api.example.com", "certificate_stack": "", "routes": {"orders": {}}}"#,
        "certificate_stack",
    );
}

#[test]
fn rejects_two_routes_with_one_path() {
    let error = error_at(
        r#"{"origin": "alb.example.com", "routes": {"orders": {}, "legacy": {"path": "/orders"}}}"#,
        "routes.orders.path",
    );
    assert_eq!(
        error.message,
        "`/orders` is the path of route `legacy` already"
    );
}
