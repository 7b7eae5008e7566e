//! Building blocks that several stack modules render the same way (KMS keys,
//! secure buckets, log groups, ...), so every module gets them right once.
