//! AWS partitions: which one a region is in, its DNS suffix, and where the services that
//! have one global endpoint in `aws` are reached in the other partitions. From botocore
//! 1.44.8's `endpoints.json` (the models' own source, crates/models/data/SOURCE.md); the
//! models themselves carry only the `aws` partition's hostnames.

/// A partition: its name (the second field of its ARNs) and its DNS suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    pub name: &'static str,
    pub dns_suffix: &'static str,
}

const AWS: Partition = Partition {
    name: "aws",
    dns_suffix: "amazonaws.com",
};

/// Region prefixes of the partitions other than `aws` (longest first where one prefixes
/// another: `us-gov-` and `us-iso-` before a bare `us-`).
const OTHERS: &[(&str, Partition)] = &[
    (
        "cn-",
        Partition {
            name: "aws-cn",
            dns_suffix: "amazonaws.com.cn",
        },
    ),
    (
        "us-gov-",
        Partition {
            name: "aws-us-gov",
            dns_suffix: "amazonaws.com",
        },
    ),
    (
        "us-isob-",
        Partition {
            name: "aws-iso-b",
            dns_suffix: "sc2s.sgov.gov",
        },
    ),
    (
        "us-isof-",
        Partition {
            name: "aws-iso-f",
            dns_suffix: "csp.hci.ic.gov",
        },
    ),
    (
        "us-iso-",
        Partition {
            name: "aws-iso",
            dns_suffix: "c2s.ic.gov",
        },
    ),
    (
        "eu-isoe-",
        Partition {
            name: "aws-iso-e",
            dns_suffix: "cloud.adc-e.uk",
        },
    ),
    (
        "eusc-",
        Partition {
            name: "aws-eusc",
            dns_suffix: "amazonaws.eu",
        },
    ),
];

/// The partition of a region (`aws` for any region no other partition claims).
pub fn of_region(region: &str) -> Partition {
    OTHERS
        .iter()
        .find(|(prefix, _)| region.starts_with(prefix))
        .map_or(AWS, |(_, p)| *p)
}

/// A host of the `aws` partition (`ssm.us-east-1.amazonaws.com`) as the partition of
/// `region` names it (`ssm.cn-north-1.amazonaws.com.cn`).
pub fn host_in(region: &str, aws_host: &str) -> String {
    let p = of_region(region);
    match aws_host.strip_suffix(AWS.dns_suffix) {
        Some(stem) if p != AWS => format!("{stem}{}", p.dns_suffix),
        _ => aws_host.to_string(),
    }
}

/// `https://<service>.<region>.<suffix>`: a regional endpoint in the region's partition.
pub fn regional_url(service: &str, region: &str) -> String {
    format!(
        "https://{service}.{region}.{}",
        of_region(region).dns_suffix
    )
}

/// Where a service whose `aws` endpoint is global is reached in another partition: its
/// partition endpoint (host, signing region), `Regional` where that partition serves it per
/// region, or `None` where the partition has no such service.
pub(crate) enum GlobalElsewhere {
    At(&'static str, &'static str),
    Regional,
}

pub(crate) fn global_endpoint(partition: &str, endpoint_prefix: &str) -> Option<GlobalElsewhere> {
    use GlobalElsewhere::{At, Regional};
    Some(match (partition, endpoint_prefix) {
        ("aws-cn", "account") => At("account.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"),
        ("aws-cn", "budgets") => At("budgets.amazonaws.com.cn", "cn-northwest-1"),
        ("aws-cn", "ce") => At("ce.cn-northwest-1.amazonaws.com.cn", "cn-northwest-1"),
        ("aws-cn", "cloudfront") => At(
            "cloudfront.cn-northwest-1.amazonaws.com.cn",
            "cn-northwest-1",
        ),
        ("aws-cn", "health") => At("global.health.amazonaws.com.cn", "cn-northwest-1"),
        ("aws-cn", "iam") => At("iam.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("aws-cn", "organizations") => At(
            "organizations.cn-northwest-1.amazonaws.com.cn",
            "cn-northwest-1",
        ),
        ("aws-cn", "route53") => At("route53.amazonaws.com.cn", "cn-northwest-1"),
        ("aws-cn", "savingsplans") => Regional,
        ("aws-cn", "support") => At("support.cn-north-1.amazonaws.com.cn", "cn-north-1"),
        ("aws-us-gov", "health") => Regional,
        ("aws-us-gov", "iam") => At("iam.us-gov.amazonaws.com", "us-gov-west-1"),
        ("aws-us-gov", "networkmanager") => At(
            "networkmanager.us-gov-west-1.amazonaws.com",
            "us-gov-west-1",
        ),
        ("aws-us-gov", "organizations") => {
            At("organizations.us-gov-west-1.amazonaws.com", "us-gov-west-1")
        }
        ("aws-us-gov", "route53") => At("route53.us-gov.amazonaws.com", "us-gov-west-1"),
        ("aws-us-gov", "support") => At("support.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_map_to_their_partitions() {
        assert_eq!(of_region("us-east-1").name, "aws");
        assert_eq!(of_region("cn-north-1").name, "aws-cn");
        assert_eq!(of_region("us-gov-west-1").name, "aws-us-gov");
        assert_eq!(of_region("us-iso-east-1").name, "aws-iso");
        assert_eq!(of_region("us-isob-east-1").name, "aws-iso-b");
        assert_eq!(of_region("eu-isoe-west-1").name, "aws-iso-e");
    }

    #[test]
    fn hosts_take_the_partitions_suffix() {
        assert_eq!(
            host_in("us-east-1", "ssm.us-east-1.amazonaws.com"),
            "ssm.us-east-1.amazonaws.com"
        );
        assert_eq!(
            host_in("cn-north-1", "ssm.cn-north-1.amazonaws.com"),
            "ssm.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(
            host_in("us-gov-west-1", "ssm.us-gov-west-1.amazonaws.com"),
            "ssm.us-gov-west-1.amazonaws.com"
        );
        assert_eq!(
            regional_url("lambda", "us-iso-east-1"),
            "https://lambda.us-iso-east-1.c2s.ic.gov"
        );
    }
}
