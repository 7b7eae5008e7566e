//! IPv4 CIDR blocks: parsing what the user wrote, and carving a VPC's block
//! into equal subnets. Pure arithmetic on `u32`, so the subnet layout is
//! decided at render time and shows up in the template as literal CIDRs
//! (readable in a plan diff, unlike `Fn::Cidr`).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network: a base address and a prefix length (0..=32).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Cidr {
    address: u32,
    prefix: u8,
}

/// Why a string is not a usable CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidrError {
    /// Not `a.b.c.d/n` with four octets and a prefix of at most 32.
    Syntax,
    /// Well-formed, but bits below the prefix are set; carries the network
    /// the user probably meant.
    HostBitsSet(Ipv4Cidr),
}

impl Ipv4Cidr {
    /// Parse `a.b.c.d/n`, refusing host bits below the prefix.
    pub fn parse(text: &str) -> Result<Self, CidrError> {
        let (address, prefix) = text.split_once('/').ok_or(CidrError::Syntax)?;
        let address = Ipv4Addr::from_str(address).map_err(|_| CidrError::Syntax)?;
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Syntax);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Syntax)?;
        if prefix > 32 {
            return Err(CidrError::Syntax);
        }
        let cidr = Self {
            address: u32::from(address),
            prefix,
        };
        let network = Self {
            address: cidr.address & mask(prefix),
            prefix,
        };
        if network == cidr {
            Ok(cidr)
        } else {
            Err(CidrError::HostBitsSet(network))
        }
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// How many blocks of `/prefix` fit in this network (0 when `prefix` is
    /// not longer than this network's).
    pub fn subnet_count(self, prefix: u8) -> u64 {
        if prefix <= self.prefix || prefix > 32 {
            0
        } else {
            1u64 << (prefix - self.prefix)
        }
    }

    /// The `index`th block of `/prefix` inside this network, or `None` when
    /// it does not fit.
    pub fn subnet(self, prefix: u8, index: u64) -> Option<Self> {
        if index >= self.subnet_count(prefix) {
            return None;
        }
        let size = 1u64 << (32 - prefix);
        let offset = u32::try_from(index * size).ok()?;
        Some(Self {
            address: self.address + offset,
            prefix,
        })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.address), self.prefix)
    }
}

/// The network mask of a prefix length (`/16` → `255.255.0.0`).
fn mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => u32::MAX << (32 - u32::from(p.min(32))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Ipv4Cidr {
        Ipv4Cidr::parse(text).expect("valid cidr")
    }

    #[test]
    fn parses_and_prints_a_network() {
        assert_eq!(cidr("10.0.0.0/16").to_string(), "10.0.0.0/16");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("192.168.1.7/32").to_string(), "192.168.1.7/32");
    }

    #[test]
    fn rejects_malformed_blocks() {
        for text in [
            "10.0.0.0",
            "10.0.0/16",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.256/16",
            "x/16",
        ] {
            assert_eq!(Ipv4Cidr::parse(text), Err(CidrError::Syntax), "{text}");
        }
    }

    #[test]
    fn suggests_the_network_when_host_bits_are_set() {
        assert_eq!(
            Ipv4Cidr::parse("10.0.1.0/16"),
            Err(CidrError::HostBitsSet(cidr("10.0.0.0/16")))
        );
    }

    #[test]
    fn carves_consecutive_subnets() {
        let vpc = cidr("10.0.0.0/16");
        assert_eq!(vpc.subnet_count(20), 16);
        assert_eq!(vpc.subnet(20, 0), Some(cidr("10.0.0.0/20")));
        assert_eq!(vpc.subnet(20, 1), Some(cidr("10.0.16.0/20")));
        assert_eq!(vpc.subnet(20, 15), Some(cidr("10.0.240.0/20")));
        assert_eq!(vpc.subnet(20, 16), None);
        assert_eq!(vpc.subnet(16, 0), None);
    }
}
