//! CIDR blocks users may open the load balancer to: IPv4 (`CidrIp`) or
//! IPv6 (`CidrIpv6`), with no bits set after the prefix.

use std::fmt;
use std::net::IpAddr;

/// A network an ingress rule admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpCidr {
    address: IpAddr,
    prefix: u8,
}

/// Why a string is not a usable CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidrError {
    /// Not `address/prefix` with a prefix within the address family's width.
    Syntax,
    /// Well-formed, but bits after the prefix are set; carries the network
    /// the user probably meant.
    HostBitsSet(IpCidr),
}

impl IpCidr {
    /// Parse `a.b.c.d/n` or `x:y::z/n`.
    pub fn parse(text: &str) -> Result<Self, CidrError> {
        let (address, prefix) = text.split_once('/').ok_or(CidrError::Syntax)?;
        let address: IpAddr = address.parse().map_err(|_| CidrError::Syntax)?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Syntax);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Syntax)?;
        let network = match address {
            IpAddr::V4(v4) if prefix <= 32 => {
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                IpAddr::from((u32::from(v4) & mask).to_be_bytes())
            }
            IpAddr::V6(v6) if prefix <= 128 => {
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                IpAddr::from((u128::from(v6) & mask).to_be_bytes())
            }
            _ => return Err(CidrError::Syntax),
        };
        let cidr = Self { address, prefix };
        if network == address {
            Ok(cidr)
        } else {
            Err(CidrError::HostBitsSet(Self {
                address: network,
                prefix,
            }))
        }
    }

    /// True for an IPv6 block.
    pub fn is_ipv6(self) -> bool {
        self.address.is_ipv6()
    }

    /// The CloudFormation rule property this block goes in.
    pub fn rule_key(self) -> &'static str {
        if self.is_ipv6() { "CidrIpv6" } else { "CidrIp" }
    }
}

impl fmt::Display for IpCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ipv4_and_ipv6_blocks() {
        assert_eq!(
            IpCidr::parse("0.0.0.0/0").map(|c| c.to_string()),
            Ok("0.0.0.0/0".into())
        );
        assert_eq!(
            IpCidr::parse("203.0.113.0/24").map(|c| c.rule_key()),
            Ok("CidrIp")
        );
        assert_eq!(IpCidr::parse("::/0").map(|c| c.rule_key()), Ok("CidrIpv6"));
        assert_eq!(
            IpCidr::parse("2001:db8::/32").map(|c| c.to_string()),
            Ok("2001:db8::/32".into())
        );
    }

    #[test]
    fn rejects_malformed_blocks() {
        for text in [
            "0.0.0.0",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "anywhere/0",
        ] {
            assert_eq!(IpCidr::parse(text), Err(CidrError::Syntax), "{text}");
        }
    }

    #[test]
    fn suggests_the_network_when_host_bits_are_set() {
        let Err(CidrError::HostBitsSet(network)) = IpCidr::parse("203.0.113.7/24") else {
            panic!("expected host bits error");
        };
        assert_eq!(network.to_string(), "203.0.113.0/24");
        let Err(CidrError::HostBitsSet(network)) = IpCidr::parse("2001:db8::1/64") else {
            panic!("expected host bits error");
        };
        assert_eq!(network.to_string(), "2001:db8::/64");
    }
}
