//! The condition selecting the rows whose stored IP passes an IP filter
//! ([`ActivityFilter::ip`](tower_activity::ActivityFilter::ip)).
//!
//! The `ip` column is text, and may hold a keyed hash or a truncated network
//! as well as an address, so nothing is cast: a network is turned into the
//! shapes the text of an address inside it can take, as `IpAddr` writes it
//! (a head of whole groups, then one group or octet in a range, then, for an
//! IPv6 address whose zeros were compressed, a count of the groups after the
//! `::`), and each shape is checked with `substr`, `length` and `replace`,
//! the same on every backend. No stored text can make the query fail.

use std::fmt::Write as _;
use std::net::IpAddr;

use ipnet::IpNet;
use sea_orm::sea_query::{Expr, ExprTrait, Func, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, DbBackend};

use crate::entity::Column;

/// The rows whose `ip` is `net`'s own text (an address truncated to that
/// network), or an address inside `net` written as `IpAddr` writes it. An
/// address (a network of one) is an equality, which the (ip, id) index
/// serves; a wider network is checked on each row read.
pub(crate) fn ip_condition(net: IpNet, backend: DbBackend) -> Condition {
    let net = net.trunc();
    if net.prefix_len() == net.max_prefix_len() {
        return Condition::all().add(Column::Ip.is_in([net.addr().to_string(), net.to_string()]));
    }
    let family = Family::of(net.addr());
    let mut shapes = Condition::any();
    for shape in shapes_of(net) {
        shapes = shapes.add(shape.condition(family));
    }
    Condition::any()
        .add(Column::Ip.eq(net.to_string()))
        .add(Condition::all().add(family.guard(backend)).add(shapes))
}

/// IPv4 or IPv6 text.
#[derive(Clone, Copy, Debug)]
enum Family {
    V4,
    V6,
}

impl Family {
    fn of(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    fn separator(self) -> char {
        match self {
            Family::V4 => '.',
            Family::V6 => ':',
        }
    }

    /// The index of the last group (octet).
    fn last_group(self) -> usize {
        match self {
            Family::V4 => 3,
            Family::V6 => 7,
        }
    }

    /// The values of a group written with `digits` digits, no leading zero.
    fn values_with_digits(self, digits: u32) -> (u32, u32) {
        let (radix, max): (u32, u32) = match self {
            Family::V4 => (10, 255),
            Family::V6 => (16, 0xffff),
        };
        let low = if digits == 1 { 0 } else { radix.pow(digits - 1) };
        (low, std::cmp::min(radix.pow(digits) - 1, max))
    }

    fn max_digits(self) -> u32 {
        match self {
            Family::V4 => 3,
            Family::V6 => 4,
        }
    }

    /// A group's value written with exactly `digits` digits.
    fn write(self, value: u32, digits: u32) -> String {
        let digits = digits as usize;
        match self {
            Family::V4 => format!("{value:0digits$}"),
            Family::V6 => format!("{value:0digits$x}"),
        }
    }

    /// Text made of this family's characters only, with the separators an
    /// address has: three dots, or two to seven colons.
    fn guard(self, backend: DbBackend) -> Condition {
        let (alphabet, separators) = match self {
            Family::V4 => ("0-9.", 3..=3),
            Family::V6 => ("0-9a-f:", 2..=7),
        };
        let other = match backend {
            DbBackend::Postgres => Expr::cust_with_exprs(
                "$1 ~ $2",
                [Expr::col(Column::Ip), Expr::val(format!("[^{alphabet}]"))],
            ),
            DbBackend::MySql => Expr::cust_with_exprs(
                "? REGEXP ?",
                [Expr::col(Column::Ip), Expr::val(format!("[^{alphabet}]"))],
            ),
            _ => Expr::cust_with_exprs(
                "? GLOB ?",
                [Expr::col(Column::Ip), Expr::val(format!("*[^{alphabet}]*"))],
            ),
        };
        Condition::all()
            .add(other.not())
            .add(separators_in_ip(self).between(*separators.start(), *separators.end()))
    }
}

/// The number of separators in the stored text.
fn separators_in_ip(family: Family) -> SimpleExpr {
    let without = Func::cust("replace")
        .arg(Expr::col(Column::Ip))
        .arg(family.separator().to_string())
        .arg("");
    Expr::expr(Func::char_length(Expr::col(Column::Ip))).sub(Func::char_length(without))
}

/// What follows an IPv6 head with a `::`, told by the colons in the whole
/// text (a group after the `::` adds one).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Tail {
    /// Anything.
    Any,
    /// Nothing, or (when given) groups that bring the colons to at most this.
    NothingOrColonsAtMost(Option<usize>),
    /// Groups that bring the colons to exactly this.
    Colons(usize),
}

/// One shape of the text of an address inside a network.
#[derive(Clone, Debug)]
struct Shape {
    /// The text starts with this.
    head: String,
    /// Then a group with a value in this range, followed by the separator
    /// (or the end of the text, for the last group), when given.
    part: Option<(u32, u32, usize)>,
    /// The groups after the head's `::`.
    tail: Tail,
}

/// The shapes of the text of every address inside `net` (truncated, not a
/// single address).
fn shapes_of(net: IpNet) -> Vec<Shape> {
    let prefix = usize::from(net.prefix_len());
    match net.addr() {
        IpAddr::V4(addr) => {
            let octets = addr.octets().map(u32::from);
            let (full, rest) = (prefix / 8, prefix % 8);
            let mut head = String::new();
            for octet in &octets[..full] {
                let _ = write!(head, "{octet}.");
            }
            let part = (rest > 0).then(|| (octets[full], octets[full] + (1 << (8 - rest)) - 1, full));
            vec![Shape {
                head,
                part,
                tail: Tail::Any,
            }]
        }
        IpAddr::V6(addr) => v6_shapes(addr.segments().map(u32::from), prefix),
    }
}

/// The shapes of IPv6 text inside the network of `groups` cut to `prefix`
/// bits: written out up to the network's last group, or with the `::` of
/// the longest run of zero groups starting inside the network's groups.
fn v6_shapes(groups: [u32; 8], prefix: usize) -> Vec<Shape> {
    let (full, rest) = (prefix / 16, prefix % 16);
    let part_range = (rest > 0).then(|| (groups[full], groups[full] + (1 << (16 - rest)) - 1));
    let constrained = full + usize::from(rest > 0);
    let join = |range: std::ops::Range<usize>| {
        let texts: Vec<String> = groups[range].iter().map(|group| format!("{group:x}")).collect();
        texts.join(":")
    };
    let mut shapes = Vec::new();
    let mut head = join(0..full);
    if full > 0 {
        head.push(':');
    }
    shapes.push(Shape {
        head,
        part: part_range.map(|(low, high)| (low, high, full)),
        tail: Tail::Any,
    });
    // May group `i` of the network be zero?
    let zero = |i: usize| match (i < full, part_range) {
        (true, _) => groups[i] == 0,
        (false, Some((low, _))) => low == 0,
        (false, None) => true,
    };
    // The `::` of a run of two or more zero groups starting at group `start`.
    for start in 0..constrained.min(7) {
        let head = if start == 0 {
            "::".to_owned()
        } else {
            format!("{}::", join(0..start))
        };
        // The colons of `head`, and those `groups` after it bring the text to.
        let colons = |groups: usize| head.matches(':').count() + groups - 1;
        // The run covers every constrained group from `start` on.
        if (start..constrained).all(zero) {
            shapes.push(Shape {
                head: head.clone(),
                part: None,
                tail: Tail::NothingOrColonsAtMost(
                    Some((8 - constrained).min(6 - start))
                        .filter(|&groups| groups > 0)
                        .map(colons),
                ),
            });
        }
        // The run ends at `end`, before the network's last group; the
        // groups after it are written.
        for end in start + 1..constrained.saturating_sub(1) {
            if !(start..=end).all(|i| groups[i] == 0) || (end + 1 < full && groups[end + 1] == 0) {
                continue;
            }
            let mut head = format!("{head}{}", join(end + 1..full));
            if end + 1 < full {
                head.push(':');
            }
            shapes.push(Shape {
                head,
                part: part_range.map(|(low, high)| (low, high, full)),
                tail: Tail::Colons(colons(7 - end)),
            });
        }
    }
    shapes
}

impl Shape {
    /// The condition selecting the text of this shape.
    fn condition(&self, family: Family) -> Condition {
        let ip = || Expr::col(Column::Ip);
        let chars = |text: &str| i32::try_from(text.chars().count()).unwrap_or(i32::MAX);
        let substr = |from: i32, length: i32| Func::cust("substr").arg(ip()).arg(from).arg(length);
        let mut all = Condition::all();
        if !self.head.is_empty() {
            all = all.add(Expr::expr(substr(1, chars(&self.head))).eq(self.head.as_str()));
        }
        if let Some((low, high, index)) = self.part {
            let from = chars(&self.head) + 1;
            let separator = family.separator().to_string();
            let mut lengths = Condition::any();
            for digits in 1..=family.max_digits() {
                let (shortest, longest) = family.values_with_digits(digits);
                let (low, high) = (std::cmp::max(low, shortest), std::cmp::min(high, longest));
                if low > high {
                    continue;
                }
                let length = digits as i32;
                let end = if index == family.last_group() {
                    Expr::expr(Func::char_length(ip())).eq(from + length - 1)
                } else {
                    Expr::expr(substr(from + length, 1)).eq(separator.as_str())
                };
                lengths = lengths.add(
                    Condition::all()
                        .add(
                            Expr::expr(substr(from, length))
                                .between(family.write(low, digits), family.write(high, digits)),
                        )
                        .add(Expr::expr(substr(from, length)).not_like(format!("%{separator}%")))
                        .add(end),
                );
            }
            all = all.add(lengths);
        }
        let colons = separators_in_ip(Family::V6);
        match self.tail {
            Tail::Any => {}
            Tail::NothingOrColonsAtMost(most) => {
                let mut either = Condition::any().add(ip().eq(self.head.as_str()));
                if let Some(most) = most {
                    either = either.add(colons.lte(most as i32));
                }
                all = all.add(either);
            }
            Tail::Colons(exactly) => all = all.add(colons.eq(exactly as i32)),
        }
        all
    }

    /// Whether `text` has this shape: the condition, read in Rust.
    #[cfg(test)]
    fn accepts(&self, text: &str, family: Family) -> bool {
        let Some(rest) = text.strip_prefix(self.head.as_str()) else {
            return false;
        };
        if let Some((low, high, index)) = self.part {
            let separator = family.separator();
            let fits = (1..=family.max_digits() as usize).any(|digits| {
                let (shortest, longest) = family.values_with_digits(digits as u32);
                let (low, high) = (std::cmp::max(low, shortest), std::cmp::min(high, longest));
                let Some(group) = rest.get(..digits) else {
                    return false;
                };
                let after = &rest[digits..];
                low <= high
                    && group >= family.write(low, digits as u32).as_str()
                    && group <= family.write(high, digits as u32).as_str()
                    && !group.contains(separator)
                    && if index == family.last_group() {
                        after.is_empty()
                    } else {
                        after.starts_with(separator)
                    }
            });
            if !fits {
                return false;
            }
        }
        let colons = text.matches(':').count();
        match self.tail {
            Tail::Any => true,
            Tail::NothingOrColonsAtMost(most) => text == self.head || most.is_some_and(|most| colons <= most),
            Tail::Colons(exactly) => colons == exactly,
        }
    }
}

#[cfg(test)]
#[path = "ip_condition_tests.rs"]
mod tests;
