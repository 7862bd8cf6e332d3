//! The shapes of IP text checked against `IpNet::contains`, over many
//! generated networks and addresses, and the SQL of a single address.

use super::*;
use std::net::Ipv6Addr;

/// Whether the shapes of `net` accept `text`, with the family's guard.
fn accepted(net: IpNet, text: &str) -> bool {
    let family = Family::of(net.addr());
    let (alphabet, separators): (&[char], _) = match family {
        Family::V4 => (&['.'], 3..=3),
        Family::V6 => (&[':'], 2..=7),
    };
    let guard = text.chars().all(|c| {
        c.is_ascii_digit()
            || alphabet.contains(&c)
            || (matches!(family, Family::V6) && ('a'..='f').contains(&c))
    }) && separators.contains(&text.matches(family.separator()).count());
    guard
        && shapes_of(net.trunc())
            .iter()
            .any(|shape| shape.accepts(text, family))
}

/// A small deterministic generator (xorshift).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A group that is often zero, so that texts compress.
    fn group(&mut self) -> u16 {
        match self.next() % 4 {
            0 | 1 => 0,
            2 => (self.next() % 16) as u16,
            _ => self.next() as u16,
        }
    }

    fn v6(&mut self) -> Ipv6Addr {
        Ipv6Addr::from([(); 8].map(|()| self.group()))
    }
}

#[test]
fn ipv6_shapes_accept_exactly_the_addresses_inside() {
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    for _ in 0..3_000 {
        let base = random.v6();
        let prefix = (random.next() % 128) as u8;
        let net = IpNet::new(IpAddr::V6(base), prefix).unwrap().trunc();
        for _ in 0..40 {
            // Addresses near the network: its own bits, some changed.
            let mut groups = base.segments();
            let flip = (random.next() % 8) as usize;
            groups[flip] = random.group();
            if random.next().is_multiple_of(3) {
                groups[(random.next() % 8) as usize] = 0;
            }
            let addr = Ipv6Addr::from(groups);
            if addr.to_ipv4_mapped().is_some() {
                continue;
            }
            let text = addr.to_string();
            assert_eq!(
                accepted(net, &text),
                IpNet::contains(&net, &IpAddr::V6(addr)),
                "{net} {text} {:?}",
                shapes_of(net)
            );
        }
    }
}

#[test]
fn ipv4_shapes_accept_exactly_the_addresses_inside() {
    let mut random = Random(0x2545_f491_4f6c_dd1d);
    for _ in 0..5_000 {
        let base = std::net::Ipv4Addr::from(random.next() as u32);
        let prefix = (random.next() % 32) as u8;
        let net = IpNet::new(IpAddr::V4(base), prefix).unwrap().trunc();
        for _ in 0..20 {
            let mask = if random.next().is_multiple_of(2) {
                0xff
            } else {
                0xffff_ffff
            };
            let addr = std::net::Ipv4Addr::from(u32::from(base) ^ (random.next() as u32 & mask));
            assert_eq!(
                accepted(net, &addr.to_string()),
                IpNet::contains(&net, &IpAddr::V4(addr)),
                "{net} {addr}"
            );
        }
    }
}

#[test]
fn an_address_is_an_equality_on_its_text() {
    use sea_orm::{EntityTrait, QueryFilter, QueryTrait};
    let net = IpNet::from("2001:db8::1".parse::<IpAddr>().unwrap());
    let sql = crate::entity::Entity::find()
        .filter(ip_condition(net, DbBackend::Postgres))
        .build(DbBackend::Postgres)
        .to_string();
    assert!(
        sql.ends_with(r#""ip" IN ('2001:db8::1', '2001:db8::1/128')"#),
        "{sql}"
    );
}
