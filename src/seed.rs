//! Seed derivation: every deterministic value of the simulator (keys, app ids, the numbers of
//! later apps, rotations, the "system busy" draw) comes from a seed through these two
//! functions.
//!
//! This module knows nothing of keys, platforms or state: a seed and a purpose give a stream of
//! numbers, the same on every machine.

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

/// A ChaCha20 generator for one purpose of one seed. Each purpose gets its own stream, so adding
/// a new derived value never changes the existing ones.
pub fn seeded_rng(seed: u64, purpose: &str) -> ChaCha20Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"alipay-sim/v1/");
    hasher.update(purpose.as_bytes());
    hasher.update(b"/");
    hasher.update(seed.to_be_bytes());
    ChaCha20Rng::from_seed(hasher.finalize().into())
}

/// A new seed derived from `seed` for the `number`th value of one purpose (the second app of a
/// seeded state, the next rotation of an app's keys).
pub fn derive_seed(seed: u64, purpose: &str, number: u64) -> u64 {
    seeded_rng(seed, &format!("{purpose}/{number}")).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_rngs_differ_by_purpose_and_seed() {
        let a = seeded_rng(1, "x").next_u64();
        assert_eq!(a, seeded_rng(1, "x").next_u64());
        assert_ne!(a, seeded_rng(2, "x").next_u64());
        assert_ne!(a, seeded_rng(1, "y").next_u64());
    }

    #[test]
    fn derived_seeds_are_the_first_number_of_their_purpose() {
        assert_eq!(derive_seed(7, "app", 1), seeded_rng(7, "app/1").next_u64());
        assert_ne!(derive_seed(7, "app", 1), derive_seed(7, "app", 2));
    }
}
