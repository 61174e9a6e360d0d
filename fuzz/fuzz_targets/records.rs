//! The loop every per-category fuzz target runs: records back to back, as in a datablock
//! body, checking that a decoder always advances and that errors point inside the input.

use iapz_adapters::asterix::AsterixError;

/// A category's record decoder (`catNNN::decode`).
pub type DecodeFn<R> = fn(&[u8], usize, usize) -> Result<(R, usize), AsterixError>;

/// Decodes records from `data` until the end or the first error.
pub fn walk<R>(data: &[u8], decode: DecodeFn<R>) {
    let mut pos = 0;
    while pos < data.len() {
        match decode(data, pos, 0) {
            Ok((_, next)) => {
                assert!(next > pos && next <= data.len());
                pos = next;
            }
            Err(e) => {
                assert!(e.offset().is_some_and(|o| o <= data.len()));
                break;
            }
        }
    }
}
