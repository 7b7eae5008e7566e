//! CIDR blocks: parsing what the user wrote, with a precise error when it is
//! not a network, and carving a network into equal subnets.
//!
//! The arithmetic runs at render time, so subnet layouts show up in a
//! template as literal blocks (readable in a plan diff, unlike `Fn::Cidr`).
//!
//! ```
//! use strata_module_sdk::cidr::{Cidr, CidrError};
//!
//! let vpc = Cidr::parse("10.0.0.0/16").expect("a network");
//! assert_eq!(vpc.subnet(20, 1).map(|s| s.to_string()), Some("10.0.16.0/20".into()));
//!
//! // Bits set after the prefix: the error carries the network the user
//! // probably meant, for a `did you mean` hint.
//! let Err(CidrError::HostBitsSet(meant)) = Cidr::parse("10.1.2.0/16") else { panic!() };
//! assert_eq!(meant.to_string(), "10.1.0.0/16");
//! ```

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address with no bits set after the prefix,
/// and a prefix length (0 to 32 for IPv4, 0 to 128 for IPv6).
///
/// Displays as `address/prefix` (`10.0.0.0/16`, `2001:db8::/32`). Ordered by
/// family (IPv4 first), then address, then prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    address: IpAddr,
    prefix: u8,
}

/// Why a string or an address and prefix is not a usable CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CidrError {
    /// Not `address/prefix`: a malformed address, a prefix that is not a
    /// plain decimal number, or one longer than the address family's width
    /// (or, for [`Cidr::parse_ipv4`], an IPv6 block).
    Syntax,
    /// Well-formed, but bits after the prefix are set (`10.1.2.0/16`);
    /// carries the network the user probably meant (`10.1.0.0/16`).
    HostBitsSet(Cidr),
}

impl fmt::Display for CidrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax => f.write_str("not a CIDR block (`address/prefix`)"),
            Self::HostBitsSet(network) => write!(
                f,
                "bits set after the `/{}` prefix (the network is `{network}`)",
                network.prefix
            ),
        }
    }
}

impl std::error::Error for CidrError {}

impl Cidr {
    /// Parse `a.b.c.d/n` or `x:y::z/n`, refusing host bits after the prefix.
    ///
    /// ```
    /// use strata_module_sdk::cidr::{Cidr, CidrError};
    /// assert!(Cidr::parse("::/0").is_ok_and(Cidr::is_ipv6));
    /// assert_eq!(Cidr::parse("10.0.0.0/33"), Err(CidrError::Syntax));
    /// assert_eq!(Cidr::parse("10.0.0.0/+8"), Err(CidrError::Syntax));
    /// ```
    pub fn parse(text: &str) -> Result<Self, CidrError> {
        let (address, prefix) = text.split_once('/').ok_or(CidrError::Syntax)?;
        let address: IpAddr = address.parse().map_err(|_| CidrError::Syntax)?;
        // `u8::from_str` would accept `+8`.
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CidrError::Syntax);
        }
        let prefix: u8 = prefix.parse().map_err(|_| CidrError::Syntax)?;
        Self::new(address, prefix)
    }

    /// Like [`Cidr::parse`], but an IPv6 block is a [`CidrError::Syntax`]
    /// error, for keys that only take IPv4 (a VPC's primary block).
    ///
    /// ```
    /// use strata_module_sdk::cidr::{Cidr, CidrError};
    /// assert!(Cidr::parse_ipv4("10.0.0.0/16").is_ok());
    /// assert_eq!(Cidr::parse_ipv4("2001:db8::/32"), Err(CidrError::Syntax));
    /// assert_eq!(Cidr::parse_ipv4("2001:db8::1/32"), Err(CidrError::Syntax));
    /// ```
    pub fn parse_ipv4(text: &str) -> Result<Self, CidrError> {
        match Self::parse(text) {
            Ok(cidr) | Err(CidrError::HostBitsSet(cidr)) if cidr.is_ipv6() => {
                Err(CidrError::Syntax)
            }
            result => result,
        }
    }

    /// The network of `address` and `prefix`, refusing a prefix longer than
    /// the family's width and host bits after the prefix.
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use strata_module_sdk::cidr::Cidr;
    /// let cidr = Cidr::new(Ipv4Addr::new(192, 168, 0, 0).into(), 24).expect("a network");
    /// assert_eq!(cidr.to_string(), "192.168.0.0/24");
    /// ```
    pub fn new(address: IpAddr, prefix: u8) -> Result<Self, CidrError> {
        let width = width(address);
        if prefix > width {
            return Err(CidrError::Syntax);
        }
        let bits = bits(address);
        let network = bits & mask(prefix, width);
        if network == bits {
            Ok(Self { address, prefix })
        } else {
            Err(CidrError::HostBitsSet(Self {
                address: from_bits(network, address.is_ipv6()),
                prefix,
            }))
        }
    }

    /// The network address (the first address of the block).
    pub fn address(self) -> IpAddr {
        self.address
    }

    /// The prefix length.
    pub fn prefix(self) -> u8 {
        self.prefix
    }

    /// True for an IPv4 block.
    pub fn is_ipv4(self) -> bool {
        self.address.is_ipv4()
    }

    /// True for an IPv6 block.
    pub fn is_ipv6(self) -> bool {
        self.address.is_ipv6()
    }

    /// How many blocks of `/prefix` fit in this network: 0 when `prefix` is
    /// not longer than this network's, or longer than the family's width.
    /// (Saturates at `u128::MAX` for the one count that does not fit, the
    /// `/128`s of `::/0`.)
    ///
    /// ```
    /// # use strata_module_sdk::cidr::Cidr;
    /// let vpc = Cidr::parse("10.0.0.0/16").expect("a network");
    /// assert_eq!(vpc.subnet_count(20), 16);
    /// assert_eq!(vpc.subnet_count(16), 0);
    /// ```
    pub fn subnet_count(self, prefix: u8) -> u128 {
        if prefix <= self.prefix || prefix > width(self.address) {
            0
        } else {
            1u128
                .checked_shl(u32::from(prefix - self.prefix))
                .unwrap_or(u128::MAX)
        }
    }

    /// The `index`th block of `/prefix` inside this network (counting from
    /// 0 at the network address), or `None` when it does not fit.
    ///
    /// ```
    /// # use strata_module_sdk::cidr::Cidr;
    /// let vpc = Cidr::parse("10.0.0.0/16").expect("a network");
    /// assert_eq!(vpc.subnet(20, 15).map(|s| s.to_string()), Some("10.0.240.0/20".into()));
    /// assert_eq!(vpc.subnet(20, 16), None);
    /// ```
    pub fn subnet(self, prefix: u8, index: u128) -> Option<Self> {
        if index >= self.subnet_count(prefix) {
            return None;
        }
        // `prefix > self.prefix >= 0`, so the shift is below 128.
        let size = 1u128 << (width(self.address) - prefix);
        let offset = index.checked_mul(size)?;
        Some(Self {
            address: from_bits(bits(self.address) + offset, self.is_ipv6()),
            prefix,
        })
    }
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// [`Cidr::parse`].
    fn from_str(text: &str) -> Result<Self, CidrError> {
        Self::parse(text)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// Bits in an address of this family.
fn width(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

/// The address as an integer (IPv4 in the low 32 bits).
fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// The inverse of [`bits`]. Callers keep IPv4 values below 2^32.
fn from_bits(bits: u128, ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::from(bits))
    } else {
        IpAddr::V4(Ipv4Addr::from(u32::try_from(bits).unwrap_or(u32::MAX)))
    }
}

/// The network mask of a prefix length in a `width`-bit family, as the low
/// `width` bits of a `u128` (`/16` of 32 → `0xffff_0000`).
fn mask(prefix: u8, width: u8) -> u128 {
    let all = u128::MAX >> (128 - u32::from(width));
    let host = all.checked_shr(u32::from(prefix)).unwrap_or(0);
    all & !host
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        Cidr::parse(text).expect("valid cidr")
    }

    #[test]
    fn parses_and_prints_ipv4_and_ipv6_networks() {
        for text in [
            "10.0.0.0/16",
            "0.0.0.0/0",
            "192.168.1.7/32",
            "203.0.113.0/24",
            "::/0",
            "2001:db8::/32",
            "2001:db8::1/128",
        ] {
            assert_eq!(cidr(text).to_string(), text);
        }
        assert!(cidr("0.0.0.0/0").is_ipv4());
        assert!(cidr("::/0").is_ipv6());
        assert_eq!(cidr("10.0.0.0/16").prefix(), 16);
        assert_eq!(cidr("10.0.0.0/16").address(), IpAddr::from([10, 0, 0, 0]));
        assert_eq!("10.0.0.0/16".parse::<Cidr>(), Ok(cidr("10.0.0.0/16")));
    }

    #[test]
    fn rejects_malformed_blocks() {
        for text in [
            "10.0.0.0",
            "10.0.0/16",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/-1",
            "10.0.0.0/256",
            "10.0.0.256/16",
            "x/16",
            "anywhere/0",
            "",
        ] {
            assert_eq!(Cidr::parse(text), Err(CidrError::Syntax), "{text}");
        }
    }

    #[test]
    fn suggests_the_network_when_host_bits_are_set() {
        assert_eq!(
            Cidr::parse("10.0.1.0/16"),
            Err(CidrError::HostBitsSet(cidr("10.0.0.0/16")))
        );
        assert_eq!(
            Cidr::parse("203.0.113.7/24"),
            Err(CidrError::HostBitsSet(cidr("203.0.113.0/24")))
        );
        assert_eq!(
            Cidr::parse("2001:db8::1/64"),
            Err(CidrError::HostBitsSet(cidr("2001:db8::/64")))
        );
        assert_eq!(
            Cidr::parse("255.255.255.255/0"),
            Err(CidrError::HostBitsSet(cidr("0.0.0.0/0")))
        );
    }

    #[test]
    fn parses_only_ipv4_when_asked() {
        assert_eq!(Cidr::parse_ipv4("10.0.0.0/16"), Ok(cidr("10.0.0.0/16")));
        assert_eq!(
            Cidr::parse_ipv4("10.0.1.0/16"),
            Err(CidrError::HostBitsSet(cidr("10.0.0.0/16")))
        );
        assert_eq!(Cidr::parse_ipv4("::/0"), Err(CidrError::Syntax));
        assert_eq!(Cidr::parse_ipv4("2001:db8::1/64"), Err(CidrError::Syntax));
    }

    #[test]
    fn tells_the_families_apart() {
        assert_ne!(cidr("0.0.0.0/0"), cidr("::/0"));
        assert!(cidr("255.255.255.255/32") < cidr("::/0"));
    }

    #[test]
    fn carves_consecutive_ipv4_subnets() {
        let vpc = cidr("10.0.0.0/16");
        assert_eq!(vpc.subnet_count(20), 16);
        assert_eq!(vpc.subnet(20, 0), Some(cidr("10.0.0.0/20")));
        assert_eq!(vpc.subnet(20, 1), Some(cidr("10.0.16.0/20")));
        assert_eq!(vpc.subnet(20, 15), Some(cidr("10.0.240.0/20")));
        assert_eq!(vpc.subnet(20, 16), None);
        assert_eq!(vpc.subnet(16, 0), None);
        assert_eq!(vpc.subnet_count(33), 0);
        assert_eq!(vpc.subnet(33, 0), None);
        let all = cidr("0.0.0.0/0");
        assert_eq!(all.subnet_count(32), 1 << 32);
        assert_eq!(
            all.subnet(32, (1 << 32) - 1),
            Some(cidr("255.255.255.255/32"))
        );
    }

    #[test]
    fn carves_ipv6_subnets() {
        let block = cidr("2001:db8::/56");
        assert_eq!(block.subnet_count(64), 256);
        assert_eq!(block.subnet(64, 1), Some(cidr("2001:db8:0:1::/64")));
        assert_eq!(block.subnet(64, 255), Some(cidr("2001:db8:0:ff::/64")));
        assert_eq!(block.subnet(64, 256), None);
        assert_eq!(cidr("::/0").subnet_count(128), u128::MAX);
        assert_eq!(cidr("::/0").subnet_count(127), 1 << 127);
    }

    #[test]
    fn describes_errors() {
        assert_eq!(
            CidrError::HostBitsSet(cidr("10.1.0.0/16")).to_string(),
            "bits set after the `/16` prefix (the network is `10.1.0.0/16`)"
        );
    }
}
