//! The tables sealing keeps beside `activity_log`: the seals, and for each
//! sealed entry its place in a seal and its salted commitment.

/// The `activity_seal` table: one row per seal.
pub(crate) mod seal_row {
    use sea_orm::entity::prelude::*;

    /// One seal, as stored.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "activity_seal")]
    pub(crate) struct Model {
        /// The chain it belongs to.
        #[sea_orm(primary_key, auto_increment = false)]
        pub chain: String,
        /// Its place on the chain, from 1.
        #[sea_orm(primary_key, auto_increment = false)]
        pub sequence: i64,
        /// The previous seal's hash.
        pub previous: Vec<u8>,
        /// The Merkle root of its entries.
        pub root: Vec<u8>,
        /// How many entries it covers.
        pub count: i64,
        /// Its first entry's id.
        pub first_entry: Uuid,
        /// Its last entry's id.
        pub last_entry: Uuid,
        /// When it was made.
        pub sealed_at: DateTimeUtc,
        /// Its Ed25519 signature, when it was signed.
        pub signature: Option<Vec<u8>>,
    }

    /// The table has no relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `activity_seal_entry` table: one row per sealed entry.
pub(crate) mod seal_entry {
    use sea_orm::entity::prelude::*;

    /// A sealed entry's place and commitment.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "activity_seal_entry")]
    pub(crate) struct Model {
        /// The entry's id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub entry_id: Uuid,
        /// The chain of its seal.
        pub chain: String,
        /// Its seal's sequence number.
        pub sequence: i64,
        /// Its place among the seal's entries, from 0.
        pub position: i64,
        /// The salt of its commitment; none once erased.
        pub salt: Option<Vec<u8>>,
        /// The commitment to its erasable columns.
        pub commitment: Vec<u8>,
        /// Its leaf hash when sealed: what the seal's root is computed from
        /// once the entry is pruned, and what an inclusion proof starts from.
        pub leaf: Vec<u8>,
        /// Four bytes of a digest per column, to name the column that differs
        /// when a leaf no longer matches (those of the committed columns are
        /// salted).
        pub column_digests: Vec<u8>,
    }

    /// The table has no relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub(crate) enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
