//! Where a sealing round starts reading: the smallest id made at a time.

use uuid::Uuid;

/// The smallest UUID v7 made at `millis` since the Unix epoch.
pub(super) fn lowest_id_at(millis: i64) -> Uuid {
    let millis = u64::try_from(millis).unwrap_or(0) & 0xFFFF_FFFF_FFFF;
    let mut bytes = [0; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    bytes[6] = 0x70;
    bytes[8] = 0x80;
    Uuid::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_id_of_a_millisecond_orders_before_its_ids() {
        let id = Uuid::now_v7();
        let (seconds, nanos) = id.get_timestamp().unwrap().to_unix();
        let millis = (seconds * 1_000 + u64::from(nanos) / 1_000_000) as i64;
        assert!(lowest_id_at(millis) <= id);
        assert!(lowest_id_at(millis + 1) > id);
        assert_eq!(lowest_id_at(millis).get_version_num(), 7);
    }
}
